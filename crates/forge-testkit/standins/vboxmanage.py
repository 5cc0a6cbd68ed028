#!/usr/bin/env python3
"""A stand-in for VirtualBox's VBoxManage, for the virtualbox builders' end-to-end tests.

No VirtualBox runs on the test machines, so this program answers the commands the builders
send, in VBoxManage's own output formats, and keeps a VirtualBox's state in a directory:

  $VBOX_STANDIN_DIR/argv.log      every invocation's argv, one JSON array a line
  $VBOX_STANDIN_DIR/vms/<name>/   a registered VM: settings.json (nics, NAT rules, storage,
                                  other settings), running (the pid of its "VM process")
  $VBOX_STANDIN_DIR/halt          created by the guest's shutdown command: the VM powers off

The "guest" is an OpenSSH server: `startvm` starts a VM process that runs
`sshd -D -f $VBOX_STANDIN_SSHD_CONFIG -p <host port>`, the host port being the one the VM's
`packercomm` NAT rule forwards (so the builder reaches it where it would reach a real guest).
The VM process stops sshd and its sessions when the VM powers off: on `controlvm poweroff`
or `acpipowerbutton`, or once the halt file appears.

Exit status 1 and a `VBoxManage: error: ...` line on stderr, as VirtualBox does, for an
unknown VM, a locked VM and a missing import source.
"""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid

VERSION = "7.0.20_Debianr163906"
ROOT = os.environ.get("VBOX_STANDIN_DIR", "")


def fail(msg):
    sys.stderr.write("VBoxManage: error: %s\n" % msg)
    sys.exit(1)


def vm_dir(name):
    return os.path.join(ROOT, "vms", name)


def load(name):
    p = os.path.join(vm_dir(name), "settings.json")
    if not os.path.exists(p):
        fail("Could not find a registered machine named '%s'" % name)
    with open(p) as f:
        return json.load(f)


def save(name, s):
    with open(os.path.join(vm_dir(name), "settings.json"), "w") as f:
        json.dump(s, f, indent=1)


def vm_pid(name):
    try:
        with open(os.path.join(vm_dir(name), "running")) as f:
            pid = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0
    try:
        os.kill(pid, 0)
    except OSError:
        return 0
    # A zombie is not running.
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return 0
    except OSError:
        return 0
    return pid


def running(name):
    return vm_pid(name) != 0


def descendants(pid):
    """Every live process below pid."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def power_off(name):
    pid = vm_pid(name)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 15
        while running(name) and time.time() < deadline:
            time.sleep(0.05)


# --- the VM process -------------------------------------------------------------------------


def vm_process(name):
    """Runs the guest's sshd until the VM powers off."""
    s = load(name)
    rule = s["natpf1"].get("packercomm", "")
    parts = rule.split(",")
    port = parts[3] if len(parts) > 3 else "22"
    cfg = os.environ.get("VBOX_STANDIN_SSHD_CONFIG", "")
    log = open(os.path.join(vm_dir(name), "sshd.log"), "a")
    sshd = None
    if cfg:
        sshd = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", cfg, "-p", port],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    stopping = []

    def stop(*_):
        stopping.append(True)

    signal.signal(signal.SIGTERM, stop)
    halt = os.path.join(ROOT, "halt")
    while not stopping:
        if os.path.exists(halt):
            os.remove(halt)
            break
        if sshd is not None and sshd.poll() is not None:
            break
        time.sleep(0.05)
    if sshd is not None:
        # The listener first, so that it forks no new session, then every session.
        below = descendants(sshd.pid)
        try:
            sshd.kill()
        except OSError:
            pass
        for p in below:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        sshd.wait()
    try:
        os.remove(os.path.join(vm_dir(name), "running"))
    except OSError:
        pass


# --- commands --------------------------------------------------------------------------------


def cmd_import(a):
    src = a[0]
    name = a[a.index("--vmname") + 1] if "--vmname" in a else "vm"
    if not os.path.isfile(src):
        fail("Could not open the file '%s' (VERR_FILE_NOT_FOUND)" % src)
    if os.path.exists(vm_dir(name)):
        fail("Machine settings file '%s' already exists" % name)
    os.makedirs(vm_dir(name))
    save(name, {
        "uuid": str(uuid.uuid4()),
        "source": src,
        "flags": a[1:],
        "nic1": "nat",
        "natpf1": {},
        "storage": {"IDE Controller": "PIIX4"},
        "attached": {},
        "settings": {},
    })
    print("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%")
    print("Successfully imported the appliance.")


def cmd_showvminfo(a):
    name = a[0]
    s = load(name)
    state = "running" if running(name) else "poweroff"
    print('name="%s"' % name)
    print('UUID="%s"' % s["uuid"])
    print('VMState="%s"' % state)
    for i, (ctl, typ) in enumerate(s["storage"].items()):
        print('storagecontrollername%d="%s"' % (i, ctl))
        print('storagecontrollertype%d="%s"' % (i, typ))
    print('nic1="%s"' % s["nic1"])
    for i, rule in enumerate(s["natpf1"].values()):
        print('Forwarding(%d)="%s"' % (i, rule))


def cmd_list(a):
    what = a[0] if a else ""
    vms = sorted(os.listdir(os.path.join(ROOT, "vms"))) if os.path.isdir(
        os.path.join(ROOT, "vms")) else []
    if what == "vms":
        for v in vms:
            print('"%s" {%s}' % (v, load(v)["uuid"]))
    elif what == "runningvms":
        for v in vms:
            if running(v):
                print('"%s" {%s}' % (v, load(v)["uuid"]))
    elif what == "systemproperties":
        print("API version:                     7_0")
        print("Default Guest Additions ISO:     /usr/share/virtualbox/VBoxGuestAdditions.iso")


def cmd_modifyvm(a):
    name = a[0]
    s = load(name)
    if running(name):
        fail("The machine '%s' is already locked for a session (or being unlocked)" % name)
    i = 1
    while i < len(a):
        opt = a[i]
        if opt == "--natpf1":
            if a[i + 1] == "delete":
                if a[i + 2] not in s["natpf1"]:
                    fail("Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value")
                del s["natpf1"][a[i + 2]]
                i += 3
                continue
            rule = a[i + 1]
            rname = rule.split(",")[0]
            if rname in s["natpf1"]:
                fail("A NAT rule of this name already exists")
            s["natpf1"][rname] = rule
            i += 2
        elif opt == "--nic1":
            s["nic1"] = a[i + 1]
            i += 2
        else:
            s["settings"][opt] = a[i + 1] if i + 1 < len(a) else ""
            i += 2
    save(name, s)


def cmd_storagectl(a):
    name = a[0]
    s = load(name)
    ctl = a[a.index("--name") + 1]
    if "--remove" in a:
        if ctl not in s["storage"]:
            fail("Could not find a storage controller named '%s'" % ctl)
        del s["storage"][ctl]
    elif "--add" in a:
        kind = a[a.index("--add") + 1]
        s["storage"][ctl] = {"floppy": "I82078", "sata": "IntelAhci", "ide": "PIIX4"}.get(kind, kind)
    save(name, s)


def cmd_storageattach(a):
    name = a[0]
    s = load(name)
    ctl = a[a.index("--storagectl") + 1]
    if ctl not in s["storage"]:
        fail("Could not find a storage controller named '%s'" % ctl)
    slot = "%s/%s/%s" % (ctl, a[a.index("--port") + 1], a[a.index("--device") + 1])
    medium = a[a.index("--medium") + 1]
    if medium == "none":
        s["attached"].pop(slot, None)
    else:
        s["attached"][slot] = medium
    save(name, s)


def cmd_startvm(a):
    name = a[0]
    load(name)
    if running(name):
        fail("The machine '%s' is already locked by a session (or being locked or unlocked)" % name)
    pid_file = os.path.join(vm_dir(name), "running")
    p = subprocess.Popen(
        # The state directory in its argv lets tests find a VM process left running.
        [sys.executable, os.path.abspath(__file__), "__vm_process", name, ROOT],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)
    with open(pid_file, "w") as f:
        f.write(str(p.pid))
    print('Waiting for VM "%s" to power on...' % name)
    print('VM "%s" has been successfully started.' % name)


def cmd_controlvm(a):
    name, action = a[0], a[1]
    load(name)
    if not running(name):
        fail("Machine '%s' is not currently running" % name)
    if action in ("poweroff", "acpipowerbutton"):
        power_off(name)
        if action == "poweroff":
            sys.stderr.write("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n")


def cmd_export(a):
    name = a[0]
    s = load(name)
    if running(name):
        fail("The machine '%s' is already locked for a session (or being unlocked)" % name)
    out = a[a.index("--output") + 1]
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        fail("Could not create the exported medium '%s' (VERR_PATH_NOT_FOUND)" % out)
    base, ext = os.path.splitext(out)
    disk = base + "-disk001.vmdk"
    ovf = ('<?xml version="1.0"?>\n<Envelope ovf:version="1.0" '
           'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><VirtualSystem ovf:id="%s"/>'
           '</Envelope>\n' % name)
    if ext == ".ova":
        tmp = out + ".d"
        os.makedirs(tmp)
        files = [(os.path.basename(base) + ".ovf", ovf), (os.path.basename(disk), "disk of %s\n" % name)]
        with tarfile.open(out, "w") as t:
            for fname, content in files:
                p = os.path.join(tmp, fname)
                with open(p, "w") as f:
                    f.write(content)
                t.add(p, arcname=fname)
                os.remove(p)
        os.rmdir(tmp)
    else:
        with open(out, "w") as f:
            f.write(ovf)
        with open(disk, "w") as f:
            f.write("disk of %s from %s\n" % (name, s["source"]))
        if "--manifest" in a:
            with open(base + ".mf", "w") as f:
                f.write("SHA256(%s)= 0\n" % os.path.basename(out))
    print("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%")
    print("Successfully exported 1 machine(s).")


def cmd_unregistervm(a):
    name = a[0]
    load(name)
    if running(name):
        fail("Cannot unregister the machine '%s' while it is locked" % name)
    for f in os.listdir(vm_dir(name)):
        os.remove(os.path.join(vm_dir(name), f))
    os.rmdir(vm_dir(name))
    print("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%")


COMMANDS = {
    "import": cmd_import,
    "showvminfo": cmd_showvminfo,
    "list": cmd_list,
    "modifyvm": cmd_modifyvm,
    "storagectl": cmd_storagectl,
    "storageattach": cmd_storageattach,
    "startvm": cmd_startvm,
    "controlvm": cmd_controlvm,
    "export": cmd_export,
    "unregistervm": cmd_unregistervm,
    "setextradata": lambda a: None,
}


def main(argv):
    if not ROOT:
        sys.stderr.write("VBOX_STANDIN_DIR is not set\n")
        sys.exit(2)
    if argv[:1] == ["__vm_process"]:
        vm_process(argv[1])
        return
    os.makedirs(os.path.join(ROOT, "vms"), exist_ok=True)
    with open(os.path.join(ROOT, "argv.log"), "a") as f:
        f.write(json.dumps(argv) + "\n")
    if argv == ["--version"]:
        print(VERSION)
        return
    if not argv:
        sys.stderr.write("Usage: VBoxManage <command>\n")
        sys.exit(1)
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        fail("Unknown command '%s'" % argv[0])
    cmd(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
