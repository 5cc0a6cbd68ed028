#!/usr/bin/env python3
"""Generates src/schema/plugins.rs: one `plugin_config!` struct per plugin configuration, with
the argument names and cty types each plugin's generated HCL2 spec (`*.hcl2spec.go`) declares.

Usage: gen_plugin_schemas.py MIRROR_DIR > src/schema/plugins.rs
MIRROR_DIR holds bare clones named owner+repo/repo (read with `git show HEAD:path`).
Only names and types are taken from the specs; no documentation text is carried over.
"""
import re
import subprocess
import sys
from collections import OrderedDict

MIRROR = sys.argv[1]

SDK = "hashicorp+packer-plugin-sdk"
CORE = "hashicorp+packer"

# (kind, type, repo, spec file, flat struct)
PLUGINS = [
    ("Builder", "null", CORE, "builder/null/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "file", CORE, "builder/file/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "amazon-ebs", "hashicorp+packer-plugin-amazon", "builder/ebs/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "amazon-ebssurrogate", "hashicorp+packer-plugin-amazon", "builder/ebssurrogate/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "amazon-ebsvolume", "hashicorp+packer-plugin-amazon", "builder/ebsvolume/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "amazon-instance", "hashicorp+packer-plugin-amazon", "builder/instance/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "amazon-chroot", "hashicorp+packer-plugin-amazon", "builder/chroot/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "azure-arm", "hashicorp+packer-plugin-azure", "builder/azure/arm/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "azure-chroot", "hashicorp+packer-plugin-azure", "builder/azure/chroot/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "digitalocean", "digitalocean+packer-plugin-digitalocean", "builder/digitalocean/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "docker", "hashicorp+packer-plugin-docker", "builder/docker/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "googlecompute", "hashicorp+packer-plugin-googlecompute", "builder/googlecompute/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "hcloud", "hetznercloud+packer-plugin-hcloud", "builder/hcloud/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "huaweicloud-ecs", "huaweicloud+packer-plugin-huaweicloud", "builder/ecs/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "hyperv-iso", "hashicorp+packer-plugin-hyperv", "builder/hyperv/iso/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "hyperv-vmcx", "hashicorp+packer-plugin-hyperv", "builder/hyperv/vmcx/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "ibmcloud-vpc", "IBM+packer-plugin-ibmcloud", "builder/ibmcloud/vpc/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "nutanix", "nutanix-cloud-native+packer-plugin-nutanix", "builder/nutanix/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "oracle-oci", "hashicorp+packer-plugin-oracle", "builder/oci/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "outscale-bsu", "outscale+packer-plugin-outscale", "builder/bsu/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "parallels-ipsw", "Parallels+packer-plugin-parallels", "builder/parallels/ipsw/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "parallels-iso", "Parallels+packer-plugin-parallels", "builder/parallels/iso/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "parallels-pvm", "Parallels+packer-plugin-parallels", "builder/parallels/pvm/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "powervs", "ppc64le-cloud+packer-plugin-powervs", "builder/powervs/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "proxmox-iso", "hashicorp+packer-plugin-proxmox", "builder/proxmox/iso/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "proxmox-clone", "hashicorp+packer-plugin-proxmox", "builder/proxmox/clone/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "qemu", "hashicorp+packer-plugin-qemu", "builder/qemu/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "utm-iso", "naveenrajm7+packer-plugin-utm", "@utm-iso", "FlatConfig"),
    ("Builder", "veertu-anka-vm-clone", "veertuinc+packer-plugin-veertu-anka", "builder/anka/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "veertu-anka-vm-create", "veertuinc+packer-plugin-veertu-anka", "builder/anka/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "virtualbox-iso", "hashicorp+packer-plugin-virtualbox", "builder/virtualbox/iso/builder.hcl2spec.go", "FlatConfig"),
    ("Builder", "virtualbox-ovf", "hashicorp+packer-plugin-virtualbox", "builder/virtualbox/ovf/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "virtualbox-vm", "hashicorp+packer-plugin-virtualbox", "builder/virtualbox/vm/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "vmware-iso", "hashicorp+packer-plugin-vmware", "builder/vmware/iso/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "vmware-vmx", "hashicorp+packer-plugin-vmware", "builder/vmware/vmx/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "vsphere-clone", "hashicorp+packer-plugin-vsphere", "builder/vsphere/clone/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "vsphere-iso", "hashicorp+packer-plugin-vsphere", "builder/vsphere/iso/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "vsphere-supervisor", "hashicorp+packer-plugin-vsphere", "builder/vsphere/supervisor/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "vultr", "vultr+packer-plugin-vultr", "builder/vultr/config.hcl2spec.go", "FlatConfig"),
    ("Builder", "tester-dynamic", CORE, "packer_test/common/plugin_tester/builder/dynamic/builder.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "shell", CORE, "provisioner/shell/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "shell-local", SDK, "shell-local/config.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "file", CORE, "provisioner/file/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "breakpoint", CORE, "provisioner/breakpoint/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "sleep", CORE, "provisioner/sleep/provisioner.hcl2spec.go", "FlatProvisioner"),
    ("Provisioner", "powershell", CORE, "provisioner/powershell/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "windows-shell", CORE, "provisioner/windows-shell/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "windows-restart", CORE, "provisioner/windows-restart/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "hcp-sbom", CORE, "provisioner/hcp-sbom/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "ansible", "hashicorp+packer-plugin-ansible", "provisioner/ansible/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "ansible-local", "hashicorp+packer-plugin-ansible", "provisioner/ansible-local/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "goss", "YaleUniversity+packer-plugin-goss", "provisioner/goss/packer-provisioner-goss.hcl2spec.go", "FlatGossConfig"),
    ("Provisioner", "puppet-masterless", "hashicorp+packer-plugin-puppet", "provisioner/puppet-masterless/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "puppet-server", "hashicorp+packer-plugin-puppet", "provisioner/puppet-server/provisioner.hcl2spec.go", "FlatConfig"),
    ("Provisioner", "windows-update", "rgl+packer-plugin-windows-update", "update/provisioner.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "manifest", CORE, "post-processor/manifest/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "checksum", CORE, "post-processor/checksum/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "compress", CORE, "post-processor/compress/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "artifice", CORE, "post-processor/artifice/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "shell-local", SDK, "shell-local/config.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "vagrant", "hashicorp+packer-plugin-vagrant", "post-processor/vagrant/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "vagrant-cloud", "hashicorp+packer-plugin-vagrant", "post-processor/vagrant-cloud/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "vagrant-registry", "hashicorp+packer-plugin-vagrant", "post-processor/hcp-vagrant-registry/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "amazon-import", "hashicorp+packer-plugin-amazon", "post-processor/import/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "docker-import", "hashicorp+packer-plugin-docker", "post-processor/docker-import/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "docker-push", "hashicorp+packer-plugin-docker", "post-processor/docker-push/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "docker-save", "hashicorp+packer-plugin-docker", "post-processor/docker-save/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "docker-tag", "hashicorp+packer-plugin-docker", "post-processor/docker-tag/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "vsphere-template", "hashicorp+packer-plugin-vsphere", "post-processor/vsphere-template/post-processor.hcl2spec.go", "FlatConfig"),
    ("PostProcessor", "utm-vagrant", "naveenrajm7+packer-plugin-utm", "@utm-vagrant", "FlatConfig"),
    ("DataSource", "null", CORE, "datasource/null/data.hcl2spec.go", "FlatConfig"),
    ("DataSource", "http", CORE, "datasource/http/data.hcl2spec.go", "FlatConfig"),
]

# Local plugin names that templates give an existing plugin (required_plugins aliases).
ALIASES = [("Builder", "amazon-v3-ebs", "amazon-ebs")]

# Hand-transcribed specs (names and cty types only) for plugin versions not in the mirror.
# "@group" lines pull in a shared group's fields.
EXTRA = {
    "@utm-iso": """
        @PackerCommon @HTTPConfig @ISOConfig @FloppyConfig @CDConfig @BootConfig
        disable_vnc bool
        boot_key_interval string
        format string
        output_directory string
        output_filename string
        shutdown_command string
        shutdown_timeout string
        post_shutdown_delay string
        disable_shutdown bool
        @Communicator
        host_port_min int
        host_port_max int
        skip_nat_mapping bool
        ssh_host_port_min int
        ssh_host_port_max int
        ssh_skip_nat_mapping bool
        cpus int
        memory int
        utm_version_file string
        bundle_iso bool
        guest_additions_mode string
        guest_additions_interface string
        guest_additions_path string
        guest_additions_sha256 string
        guest_additions_target_path string
        guest_additions_url string
        display_nopause bool
        boot_nopause bool
        export_nopause bool
        qemuargs list(list(string))
        hypervisor bool
        uefi_boot bool
        rtc_local_time bool
        boot_steps list(list(string))
        display_hardware_type string
        disk_size uint
        hard_drive_interface string
        iso_interface string
        disk_additional_size list(uint)
        keep_registered bool
        skip_export bool
        vnc_bind_address string
        vnc_use_password bool
        vnc_port_min int
        vnc_port_max int
        vm_arch string
        vm_backend string
        vm_icon string
        vm_name string
    """,
    "@utm-vagrant": """
        @PackerCommon
        compression_level int
        include list(string)
        output string
        override map(string)
        vagrantfile_template string
        vagrantfile_template_generated bool
        provider_override string
        architecture string
    """,
}

PACKER_COMMON = [
    ("packer_build_name", ("attr", "string")),
    ("packer_builder_type", ("attr", "string")),
    ("packer_core_version", ("attr", "string")),
    ("packer_debug", ("attr", "bool")),
    ("packer_force", ("attr", "bool")),
    ("packer_on_error", ("attr", "string")),
    ("packer_user_variables", ("attr", "map(string)")),
    ("packer_sensitive_variables", ("attr", "list(string)")),
]


def camel(s):
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[-_ ]", s) if p)


def git_show(repo, path):
    return subprocess.run(
        ["git", "-C", f"{MIRROR}/{repo}/repo", "show", f"HEAD:{path}"],
        capture_output=True, text=True, check=True,
    ).stdout


def git_ls(repo):
    out = subprocess.run(
        ["git", "-C", f"{MIRROR}/{repo}/repo", "ls-tree", "-r", "--name-only", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout
    return [p for p in out.splitlines() if p.endswith("hcl2spec.go")
            and not p.startswith("vendor/") and "mock" not in p and "test-data" not in p]


def cty_to_str(t):
    """cty.List(cty.String) -> list(string)"""
    t = t.strip()
    m = re.fullmatch(r"cty\.(List|Map|Set)\((.*)\)", t)
    if m:
        return f"{m.group(1).lower()}({cty_to_str(m.group(2))})"
    return {"cty.String": "string", "cty.Number": "number", "cty.Bool": "bool",
            "cty.DynamicPseudoType": "any"}[t]


def parse_spec(text):
    """Returns {FlatName: (OrderedDict name -> spec, {name: go type})}."""
    structs = {}
    gotypes = {}
    for m in re.finditer(r"type (Flat\w+) struct \{\n(.*?)\n\}", text, re.S):
        g = {}
        for line in m.group(2).splitlines():
            lm = re.match(r"\s*\w+\s+(\S+)\s+`.*cty:\"([^\"]+)\"", line)
            if lm:
                g[lm.group(2)] = lm.group(1)
        gotypes[m.group(1)] = g
    for m in re.finditer(r"func \(\*(Flat\w+)\) HCL2Spec\(\) map\[string\]hcldec\.Spec \{\n\s*s := map\[string\]hcldec\.Spec\{\n(.*?)\n\s*\}\n\s*return s", text, re.S):
        fields = OrderedDict()
        for line in m.group(2).splitlines():
            line = re.sub(r"/\*.*?\*/", "", line).strip()
            am = re.match(r'"([^"]+)":\s*&hcldec\.AttrSpec\{Name: "[^"]+", Type: (.*), Required: (true|false)\},$', line)
            bm = re.match(r'"([^"]+)":\s*&hcldec\.(BlockSpec|BlockListSpec)\{TypeName: "[^"]+", Nested: hcldec\.ObjectSpec\(\(\*(?:(\w+)\.)?(Flat\w+)\)\(nil\)\.HCL2Spec\(\)\)\},$', line)
            if am and am.group(1) == "_":
                continue  # a placeholder in one generated spec, not a usable argument name
            if am:
                fields[am.group(1)] = ("attr", cty_to_str(am.group(2)))
            elif bm:
                fields[bm.group(1)] = ("block" if bm.group(2) == "BlockSpec" else "blocks", (bm.group(3), bm.group(4)))
            elif line:
                raise SystemExit(f"unparsed spec line: {line}")
        structs[m.group(1)] = (fields, gotypes.get(m.group(1), {}))
    return structs


# All specs: (repo, dir, FlatName) -> (fields, gotypes); IMPORTS: (repo, dir) -> {alias: (repo, dir)}
ALL = {}
IMPORTS = {}
MODULES = {}


def module_of(repo):
    if repo not in MODULES:
        try:
            gomod = git_show(repo, "go.mod")
            MODULES[repo] = re.search(r"^module (\S+)", gomod, re.M).group(1)
        except Exception:
            MODULES[repo] = None
    return MODULES[repo]


def parse_imports(repo, text):
    out = {}
    for m in re.finditer(r'^\s*(?:(\w+)\s+)?"([^"]+)"\s*$', text, re.M):
        alias, path = m.group(1), m.group(2)
        alias = alias or path.rsplit("/", 1)[-1]
        for r in REPOS_ALL:
            mod = module_of(r)
            if mod and (path == mod or path.startswith(mod + "/")):
                out[alias] = (r, path[len(mod) + 1:] if path != mod else "")
    return out
REPOS = sorted({p[2] for p in PLUGINS} | {SDK})
REPOS_ALL = REPOS
for repo in REPOS:
    for path in git_ls(repo):
        d = path.rsplit("/", 1)[0]
        text = git_show(repo, path)
        IMPORTS.setdefault((repo, d), {}).update(parse_imports(repo, text))
        for name, v in parse_spec(text).items():
            ALL[(repo, d, name)] = v


def resolve(repo, d, pkg, name):
    """Finds the nested struct a spec names as pkg.FlatName."""
    if pkg is None:
        if (repo, d, name) in ALL:
            return (repo, d, name)
    else:
        imp = IMPORTS.get((repo, d), {}).get(pkg)
        if imp and (imp[0], imp[1], name) in ALL:
            return (imp[0], imp[1], name)
    cands = [k for k in ALL if k[2] == name and k[0] == repo]
    if pkg:
        exact = [k for k in cands if k[1].endswith("/" + pkg) or k[1] == pkg]
        if exact:
            cands = exact
    if not cands:
        cands = [k for k in ALL if k[2] == name and k[0] == SDK]
    if not cands:
        raise SystemExit(f"cannot resolve {pkg}.{name} from {repo}/{d}")
    return sorted(cands)[0]


def gotype_num(g):
    g = (g or "").lstrip("*").replace("[]", "")
    if "float" in g:
        return "f64"
    if g.startswith("uint"):
        return "u64"
    if "int" in g.lower() or g in ("time.Duration",):
        return "i64"
    return "f64"


# Shared groups: the communicator, Packer's injected fields, and every squashed helper struct
# that is not itself a nested block.
nested_refs = set()
for (repo, d, name), (fields, _) in ALL.items():
    for f, spec in fields.items():
        if spec[0] != "attr":
            nested_refs.add(resolve(repo, d, *spec[1]))

GROUPS = OrderedDict()  # rust name -> (fields, gotypes, key)
comm = ALL[(SDK, "communicator", "FlatConfig")]
GROUPS["PackerCommon"] = (OrderedDict(PACKER_COMMON), {}, None)
GROUPS["Communicator"] = (comm[0], comm[1], (SDK, "communicator", "FlatConfig"))
SDK_GROUPS = {
    "HTTPConfig": "http_directory map:http_content int:http_port_min int:http_port_max http_bind_address http_interface http_network_protocol",
    "ISOConfig": "iso_checksum iso_url list:iso_urls iso_target_path iso_target_extension",
    "FloppyConfig": "list:floppy_files list:floppy_dirs map:floppy_content floppy_label",
    "CDConfig": "list:cd_files map:cd_content cd_label",
    "BootConfig": "boot_keygroup_interval boot_wait list:boot_command",
}
for gname, spec in SDK_GROUPS.items():
    gf, gg = OrderedDict(), {}
    for tok in spec.split():
        kind, _, n = tok.rpartition(":")
        gf[n] = ("attr", {"": "string", "map": "map(string)", "list": "list(string)", "int": "number"}[kind])
        gg[n] = "int" if kind == "int" else ""
    GROUPS[gname] = (gf, gg, (SDK, "commonsteps", gname))
TOP = {(p[2], p[3].rsplit("/", 1)[0], p[4]) for p in PLUGINS}
for key, (fields, g) in sorted(ALL.items()):
    repo, d, name = key
    if name == "FlatConfig" or key in TOP or key in nested_refs or len(fields) < 3 or "datasource" in d:
        continue
    if any(spec[0] != "attr" for spec in fields.values()):
        continue
    rust = name[4:]
    if rust in GROUPS:
        if GROUPS[rust][0] == fields:
            continue
        rust = camel(repo.split("+")[1].replace("packer-plugin-", "")) + rust
    GROUPS[rust] = (fields, g, key)


def parse_extra(text):
    fields = OrderedDict()
    gotypes = {}
    for line in text.split("\n"):
        for tok in line.split():
            if tok.startswith("@"):
                gf, gg, _ = GROUPS[tok[1:]]
                fields.update(gf)
                gotypes.update(gg)
        line = line.strip()
        if not line or line.startswith("@"):
            continue
        n, t = line.split()
        ct = t.replace("uint", "number").replace("int", "number")
        gotypes[n] = "uint" if "uint" in t else ("int" if "int" in t else "")
        fields[n] = ("attr", ct)
    return fields, gotypes


KEYWORDS = set("""as break const continue crate else enum extern false fn for if impl in let loop match mod
move mut pub ref return self Self static struct super trait true type unsafe use where while async await dyn
abstract become box do final macro override priv typeof unsized virtual yield try gen""".split())


def ident(name):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SystemExit(f"field name {name!r} is not a Rust identifier")
    if name in ("self", "Self", "super", "crate"):
        raise SystemExit(f"field name {name!r} cannot be a raw identifier")
    return "r#" + name if name in KEYWORDS else name


def rust_type(t, gotype):
    m = re.fullmatch(r"(list|set|map)\((.*)\)", t)
    if m:
        inner = rust_type(m.group(2), gotype)
        return f"Vec<{inner}>" if m.group(1) != "map" else f"BTreeMap<String, {inner}>"
    return {"string": "String", "bool": "bool", "any": "serde_json::Value",
            "number": gotype_num(gotype)}[t]


# Emission
out_structs = OrderedDict()  # rust name -> text
by_content = {}  # content signature -> rust name


def emit_struct(rust, doc, fields, gotypes, repo, d, use_groups):
    items = list(fields.items())
    lines = []
    consumed = set()
    flat = []
    if use_groups:
        names = set(fields)
        for gname, (gf, _, _) in GROUPS.items():
            if gname == "Communicator":
                present = [n for n in gf if n in names and n not in consumed]
                ok = "communicator" in names and "ssh_host" in names and len(present) >= 0.8 * len(gf)
                if ok:
                    consumed.update(present)
                    flat.append((present[0], gname))
                continue
            if all(n in names and n not in consumed and fields[n] == s for n, s in gf.items()):
                consumed.update(gf)
                flat.append((next(iter(gf)), gname))
    starts = {first: g for first, g in flat}
    for n, spec in items:
        if n in starts:
            g = starts[n]
            lines.append(f"        @flatten {snake(g)}: {g},")
            used_groups.add(g)
        if n in consumed:
            continue
        if spec[0] == "attr":
            lines.append(f"        {ident(n)}: Option<{rust_type(spec[1], gotypes.get(n))}>,")
        else:
            key = resolve(repo, d, *spec[1])
            sub = nested_name(key)
            lines.append(f"        {ident(n)}: " + (f"Option<{sub}>," if spec[0] == "block" else f"Vec<{sub}>,"))
    body = "\n".join(lines)
    sig = body
    if sig in by_content and use_groups is not None:
        return by_content[sig]
    text = f"    /// {doc}\n    pub struct {rust} {{\n{body}\n    }}\n"
    out_structs[rust] = text
    by_content[sig] = rust
    return rust


used_groups = set()
nested_names = {}


def nested_name(key):
    if key in nested_names:
        return nested_names[key]
    repo, d, name = key
    fields, g = ALL[key]
    base = name[4:]
    rust = base[:1].upper() + base[1:]
    if rust in out_structs or rust in GROUPS or rust in nested_names.values():
        rust = camel(repo.split("+")[1].replace("packer-plugin-", "")) + base
    nested_names[key] = rust  # before recursing
    got = emit_struct(rust, f"The `{base}` block ({repo.replace('+', '/')}, {d}).", fields, g, repo, d, False)
    nested_names[key] = got
    return got


def snake(s):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", s).lower()


kind_suffix = {"Builder": "Builder", "Provisioner": "Provisioner", "PostProcessor": "PostProcessor", "DataSource": "DataSource"}
registrations = []
for kind, ptype, repo, path, flat in PLUGINS:
    if path.startswith("@"):
        fields, g = parse_extra(EXTRA[path])
        d = "builder"
    else:
        d = path.rsplit("/", 1)[0]
        fields, g = ALL[(repo, d, flat)]
    rust = camel(ptype) + kind_suffix[kind]
    src = repo.replace("+", "/")
    got = emit_struct(rust, f"`{ptype}` {kind_suffix[kind].lower()} configuration (arguments as in {src}).", fields, g, repo, d, True)
    registrations.append((kind, ptype, got))
for kind, alias, target in ALIASES:
    registrations.append((kind, alias, next(r for k, p, r in registrations if k == kind and p == target)))

print("//! Built-in plugin schemas, generated by `tools/gen_plugin_schemas.py` from the argument names")
print("//! and cty types in each plugin's generated HCL2 spec. Every argument is optional, as in Packer")
print("//! (plugins check required settings themselves when they configure).")
print("//!")
print("//! Do not edit by hand: change the generator and run it again.")
print()
print("#![allow(missing_docs, clippy::upper_case_acronyms)]")
print()
print("use std::collections::BTreeMap;")
print()
print("use super::registry::{PluginKind, Registry};")
print()
print("crate::plugin_config! {")
for gname, (gf, gg, key) in GROUPS.items():
    if gname not in used_groups:
        continue
    lines = [f"        {ident(n)}: Option<{rust_type(s[1], gg.get(n))}>," for n, s in gf.items()]
    where = "Packer core" if key is None else f"{key[0].replace('+', '/')}, {key[1]}"
    print(f"    /// Shared argument group `{gname}` ({where}).\n    pub struct {gname} {{\n" + "\n".join(lines) + "\n    }\n")
for text in out_structs.values():
    print(text)
print("}")
print()
print("/// Registers every built-in plugin type.")
print("pub fn register_all(r: &mut Registry) {")
for kind, ptype, rust in registrations:
    print(f"    r.register::<{rust}>(PluginKind::{kind}, {ptype!r});".replace("'", '"'))
print("}")
