"""Drives forge-wsman with real Python WinRM clients, for tests/python_clients.rs.

Reads one JSON request on stdin and writes one JSON answer on stdout; the Rust test makes
every assertion. Request: {"client": "probe" | "pywinrm" | "pypsrp", "conn": {...},
"ops": [{"op": ...}, ...]}. Answer: one result per op, in order. A result is either
{"rc", "stdout", "stderr"} (text, decoded as UTF-8 with replacement) or, when the client
raised, {"error": exception class name, "message", "code", "wsman_fault_code"} (the
exception's attributes of those names: pywinrm's code is an HTTP status, pypsrp's a WS-Man
fault code). "probe" answers the installed versions.

pywinrm ops (conn: url, user, password, transport, plus any winrm.Protocol keyword; an op's
"kwargs" override conn for that op):
  run_cmd {command, args}        Session.run_cmd
  run_ps {script}                Session.run_ps
  shell {command, args, env, cwd, stdin: [str...]}
                                 Protocol: open_shell(env_vars, working_directory),
                                 run_command, send_command_input (end on the last chunk),
                                 get_command_output, cleanup_command, close_shell

pypsrp ops (conn: pypsrp.wsman.WSMan keywords; "cert_validation" may be a CA bundle path):
  process {exe, args, env, cwd, stdin: str|null}
                                 WinRS + Process: invoke, or begin_invoke/send/end_invoke
  ctrl_c {exe, args}             begin_invoke, one poll, signal ctrl_c, end_invoke
  shells {n}                     opens n WinRS shells (a list of results), then closes them
  processes {n, exe, args}       n Processes in one WinRS shell (a list of results)
"""

import json
import sys
import warnings


def text(b):
    if isinstance(b, bytes):
        return b.decode("utf-8", errors="replace")
    return b


def failure(e):
    def num(name):
        v = getattr(e, name, None)
        return v if isinstance(v, int) else None

    return {
        "error": type(e).__name__,
        "message": str(e),
        "code": num("code"),
        "wsman_fault_code": num("wsman_fault_code"),
    }


def done(rc, stdout, stderr):
    return {"rc": rc, "stdout": text(stdout), "stderr": text(stderr)}


def probe(_conn, _ops):
    from importlib.metadata import version

    import pypsrp.shell  # noqa: F401
    import pypsrp.wsman  # noqa: F401
    import winrm  # noqa: F401

    return [{"pywinrm": version("pywinrm"), "pypsrp": version("pypsrp")}]


def pywinrm(conn, ops):
    import winrm

    out = []
    for op in ops:
        kw = dict(conn)
        kw.update(op.get("kwargs", {}))
        url, user, password = kw.pop("url"), kw.pop("user"), kw.pop("password")
        try:
            if op["op"] == "run_cmd":
                s = winrm.Session(url, auth=(user, password), **kw)
                r = s.run_cmd(op["command"], op.get("args", []))
                out.append(done(r.status_code, r.std_out, r.std_err))
            elif op["op"] == "run_ps":
                s = winrm.Session(url, auth=(user, password), **kw)
                r = s.run_ps(op["script"])
                out.append(done(r.status_code, r.std_out, r.std_err))
            elif op["op"] == "shell":
                p = winrm.Protocol(url, username=user, password=password, **kw)
                shell = p.open_shell(
                    env_vars=op.get("env"), working_directory=op.get("cwd")
                )
                try:
                    cid = p.run_command(shell, op["command"], op.get("args", []))
                    chunks = op.get("stdin") or []
                    for i, chunk in enumerate(chunks):
                        p.send_command_input(shell, cid, chunk, end=i == len(chunks) - 1)
                    stdout, stderr, rc = p.get_command_output(shell, cid)
                    p.cleanup_command(shell, cid)
                finally:
                    p.close_shell(shell)
                out.append(done(rc, stdout, stderr))
            else:
                raise ValueError("unknown pywinrm op " + op["op"])
        except Exception as e:  # reported to the Rust test, which decides
            out.append(failure(e))
    return out


def pypsrp(conn, ops):
    from pypsrp.shell import Process, SignalCode, WinRS
    from pypsrp.wsman import WSMan

    out = []
    for op in ops:
        try:
            with WSMan(**conn) as wsman:
                if op["op"] == "process":
                    with WinRS(
                        wsman,
                        environment=op.get("env"),
                        working_directory=op.get("cwd"),
                    ) as shell:
                        proc = Process(shell, op["exe"], op.get("args", []))
                        if op.get("stdin") is not None:
                            proc.begin_invoke()
                            proc.send(op["stdin"].encode("utf-8"), end=True)
                            proc.end_invoke()
                        else:
                            proc.invoke()
                        proc.signal(SignalCode.TERMINATE)
                    out.append(done(proc.rc, proc.stdout, proc.stderr))
                elif op["op"] == "ctrl_c":
                    with WinRS(wsman) as shell:
                        proc = Process(shell, op["exe"], op.get("args", []))
                        proc.begin_invoke()
                        proc.poll_invoke(timeout=1)
                        proc.signal(SignalCode.CTRL_C)
                        proc.end_invoke()
                    out.append(done(proc.rc, proc.stdout, proc.stderr))
                elif op["op"] == "shells":
                    opened, results = [], []
                    try:
                        for _ in range(op["n"]):
                            shell = WinRS(wsman)
                            try:
                                shell.open()
                                opened.append(shell)
                                results.append({"opened": shell.id})
                            except Exception as e:
                                results.append(failure(e))
                    finally:
                        for shell in opened:
                            shell.close()
                    out.append(results)
                elif op["op"] == "processes":
                    results = []
                    with WinRS(wsman) as shell:
                        for _ in range(op["n"]):
                            proc = Process(shell, op["exe"], op.get("args", []))
                            try:
                                proc.invoke()
                                proc.signal(SignalCode.TERMINATE)
                                results.append(done(proc.rc, proc.stdout, proc.stderr))
                            except Exception as e:
                                results.append(failure(e))
                    out.append(results)
                else:
                    raise ValueError("unknown pypsrp op " + op["op"])
        except Exception as e:  # reported to the Rust test, which decides
            out.append(failure(e))
    return out


def main():
    warnings.simplefilter("ignore")
    req = json.load(sys.stdin)
    client = {"probe": probe, "pywinrm": pywinrm, "pypsrp": pypsrp}[req["client"]]
    json.dump(client(req.get("conn", {}), req.get("ops", [])), sys.stdout)


if __name__ == "__main__":
    main()
