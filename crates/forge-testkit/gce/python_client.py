"""Drives forge-testkit's fake Compute Engine with Google's own Python client
(google-cloud-compute, REST transport) and google-auth's service-account flow, to check that
the fake answers as Compute Engine does: an instance, a disk and an image are created, waited
for and deleted, a stale metadata fingerprint is refused, and a Windows instance's guest agent
answers a `windows-keys` request on serial port 4 with the password encrypted to the request's
key (RSA-OAEP SHA-1, decrypted here with `cryptography`).

OS Login: google-cloud-os-login imports, lists and deletes a key of the service account's own
login profile. Credentials: a gcloud application-default `authorized_user` file refreshes at the fake's
token endpoint, and google-auth's impersonated credentials get a token from the fake's IAM
Credentials `generateAccessToken`.

Usage: python_client.py ENDPOINT ACCOUNT_FILE PROJECT ZONE WINDOWS_PASSWORD ADC_FILE TARGET
"""
import base64
import datetime
import json
import sys

from google.api_core import exceptions
from google.cloud import compute_v1
from google.oauth2 import service_account

endpoint, account_file, project, zone, windows_password, adc_file, target = sys.argv[1:8]
creds = service_account.Credentials.from_service_account_file(
    account_file, scopes=["https://www.googleapis.com/auth/compute"])
# The token endpoint, through google-auth's own JWT bearer grant (the clients below send
# self-signed JWTs instead, which the fake checks too).
from google.auth.transport.requests import Request
creds.refresh(Request())
assert creds.token.startswith("ya29.fake-"), creds.token
print("token: from the fake's token_uri")
opts = {"api_endpoint": endpoint}
instances = compute_v1.InstancesClient(credentials=creds, client_options=opts)
disks = compute_v1.DisksClient(credentials=creds, client_options=opts)
images = compute_v1.ImagesClient(credentials=creds, client_options=opts)


zone_ops = compute_v1.ZoneOperationsClient(credentials=creds, client_options=opts)
global_ops = compute_v1.GlobalOperationsClient(credentials=creds, client_options=opts)


def done(op, what, zone=None):
    """Waits with the operations' own `wait` method: the library's ExtendedOperation poller
    ignores api_endpoint (it polls compute.googleapis.com)."""
    while True:
        if zone:
            o = zone_ops.wait(project=project, zone=zone, operation=op.name)
        else:
            o = global_ops.wait(project=project, operation=op.name)
        if o.status == compute_v1.Operation.Status.DONE:
            break
    if o.error and o.error.errors:
        e = o.error.errors[0]
        raise SystemExit(f"{what}: {e.code}: {e.message}")
    print(f"done: {what}")


base = images.get_from_family(project="debian-cloud", family="debian-12")
assert base.name == "debian-12-bookworm-v20240201", base.name

inst = compute_v1.Instance(
    name="py-inst",
    machine_type=f"zones/{zone}/machineTypes/e2-micro",
    labels={"forge-run": "python"},
    disks=[compute_v1.AttachedDisk(
        boot=True, auto_delete=False,
        initialize_params=compute_v1.AttachedDiskInitializeParams(
            disk_name="py-boot", source_image=base.self_link, disk_size_gb=12))],
    network_interfaces=[compute_v1.NetworkInterface(
        network="global/networks/default",
        access_configs=[compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")])],
    metadata=compute_v1.Metadata(items=[compute_v1.Items(key="a", value="1")]),
)
done(instances.insert(project=project, zone=zone, instance_resource=inst), "instance insert", zone)
got = instances.get(project=project, zone=zone, instance="py-inst")
assert got.status == "RUNNING", got.status
assert got.network_interfaces[0].access_configs[0].nat_i_p == "127.0.0.1"
fp = got.metadata.fingerprint

md = compute_v1.Metadata(fingerprint=fp, items=[compute_v1.Items(key="a", value="2")])
done(instances.set_metadata(project=project, zone=zone, instance="py-inst",
                            metadata_resource=md), "set metadata", zone)
try:
    instances.set_metadata(project=project, zone=zone, instance="py-inst", metadata_resource=md)
    raise SystemExit("a stale fingerprint was accepted")
except exceptions.PreconditionFailed as e:
    print(f"refused: stale fingerprint ({e.code})")
got = instances.get(project=project, zone=zone, instance="py-inst")
assert [(i.key, i.value) for i in got.metadata.items] == [("a", "2")], got.metadata

try:
    disks.delete(project=project, zone=zone, disk="py-boot")
    raise SystemExit("a disk in use was deleted")
except exceptions.BadRequest as e:
    print(f"refused: disk in use ({e.code})")

done(instances.delete(project=project, zone=zone, instance="py-inst"), "instance delete", zone)
try:
    instances.get(project=project, zone=zone, instance="py-inst")
    raise SystemExit("the deleted instance is still there")
except exceptions.NotFound:
    print("gone: instance")

done(disks.insert(project=project, zone=zone,
                  disk_resource=compute_v1.Disk(name="py-data", size_gb=5)), "disk insert", zone)
assert disks.get(project=project, zone=zone, disk="py-data").status == "READY"

img = compute_v1.Image(name="py-image", family="py-family",
                       source_disk=f"zones/{zone}/disks/py-boot")
done(images.insert(project=project, image_resource=img), "image insert")
got = images.get(project=project, image="py-image")
assert got.status == "READY" and got.disk_size_gb == 12, got
assert images.get_from_family(project=project, family="py-family").name == "py-image"

done(images.delete(project=project, image="py-image"), "image delete")
for d in ["py-boot", "py-data"]:
    done(disks.delete(project=project, zone=zone, disk=d), f"disk delete {d}", zone)
for call in [lambda: images.get(project=project, image="py-image"),
             lambda: disks.get(project=project, zone=zone, disk="py-data")]:
    try:
        call()
        raise SystemExit("a deleted resource is still there")
    except exceptions.NotFound:
        pass

# Windows: the windows-keys exchange, as the guest agent answers it.
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

win = images.get_from_family(project="windows-cloud", family="windows-2022")
inst = compute_v1.Instance(
    name="py-win",
    machine_type=f"zones/{zone}/machineTypes/e2-micro",
    disks=[compute_v1.AttachedDisk(
        boot=True, auto_delete=True,
        initialize_params=compute_v1.AttachedDiskInitializeParams(source_image=win.self_link))],
    network_interfaces=[compute_v1.NetworkInterface(network="global/networks/default")],
)
done(instances.insert(project=project, zone=zone, instance_resource=inst), "windows insert", zone)
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
nums = key.public_key().public_numbers()
modulus = base64.b64encode(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")).decode()
entry = json.dumps({
    "userName": "py_user", "modulus": modulus, "exponent": "AQAB", "email": "",
    "expireOn": (datetime.datetime.now(datetime.timezone.utc)
                 + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")})
got = instances.get(project=project, zone=zone, instance="py-win")
md = compute_v1.Metadata(fingerprint=got.metadata.fingerprint,
                         items=[compute_v1.Items(key="windows-keys", value=entry)])
done(instances.set_metadata(project=project, zone=zone, instance="py-win",
                            metadata_resource=md), "windows-keys", zone)
def serial(port):
    return instances.get_serial_port_output(request=compute_v1.GetSerialPortOutputInstanceRequest(
        project=project, zone=zone, instance="py-win", port=port))


out = serial(4)
answers = [json.loads(l) for l in out.contents.splitlines() if l.strip()]
mine = [a for a in answers if a.get("modulus") == modulus]
assert len(mine) == 1, out.contents
plain = key.decrypt(base64.b64decode(mine[0]["encryptedPassword"]),
                    padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                 label=None))
assert plain.decode() == windows_password, "the decrypted password differs"
print(f"windows: password decrypted from serial port 4 for {mine[0]['userName']}")
try:
    serial(5)
    raise SystemExit("serial port 5 was read")
except exceptions.BadRequest as e:
    print(f"refused: serial port 5 ({e.code})")
done(instances.delete(project=project, zone=zone, instance="py-win"), "windows delete", zone)

# Credentials: an authorized user's refresh token, and impersonation.
import google.auth
from google.auth import impersonated_credentials

import os
os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = adc_file
user, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/compute"])
# google-auth always sends an authorized user to Google's token endpoint (Go's client takes
# the file's token_uri): point it at the fake's.
user = user.with_token_uri(json.load(open(adc_file))["token_uri"])
user.refresh(Request())
assert user.token.startswith("ya29.fake-"), user.token
print("adc: authorized_user refreshed at the fake's token endpoint")
zones_as_user = compute_v1.ZonesClient(credentials=user, client_options=opts)
assert zones_as_user.get(project=project, zone=zone).name == zone
imp = impersonated_credentials.Credentials(
    source_credentials=creds, target_principal=target,
    target_scopes=["https://www.googleapis.com/auth/compute"],
    iam_endpoint_override=f"{endpoint}/v1/projects/-/serviceAccounts/{target}:generateAccessToken")
imp.refresh(Request())
assert imp.token.startswith("ya29.fake-") and imp.expiry, imp.token
zones_as_target = compute_v1.ZonesClient(credentials=imp, client_options=opts)
assert zones_as_target.get(project=project, zone=zone).name == zone
print(f"impersonated: {target}")
other = impersonated_credentials.Credentials(
    source_credentials=creds, target_principal="other@" + target.split("@")[1],
    target_scopes=["https://www.googleapis.com/auth/compute"],
    iam_endpoint_override=f"{endpoint}/v1/projects/-/serviceAccounts/other:generateAccessToken")
try:
    other.refresh(Request())
    raise SystemExit("impersonating another account was allowed")
except google.auth.exceptions.RefreshError:
    print("refused: impersonating another account")

# OS Login: the service account imports a key, reads its profile, deletes the key.
from google.cloud import oslogin_v1
oslogin = oslogin_v1.OsLoginServiceClient(credentials=creds, transport="rest", client_options=opts)
me = f"users/{creds.service_account_email}"
pub = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl py")
r = oslogin.import_ssh_public_key(parent=me, ssh_public_key={"key": pub}, project_id=project)
posix = [a for a in r.login_profile.posix_accounts if a.primary]
assert posix and posix[0].username, r.login_profile
fps = [fp for fp, k in r.login_profile.ssh_public_keys.items() if k.key == pub]
assert len(fps) == 1, r.login_profile
assert oslogin.get_login_profile(name=me).ssh_public_keys[fps[0]].key == pub
oslogin.delete_ssh_public_key(name=f"{me}/sshPublicKeys/{fps[0]}")
assert not oslogin.get_login_profile(name=me).ssh_public_keys
try:
    oslogin.import_ssh_public_key(parent="users/someone@example.com",
                                  ssh_public_key={"key": pub}, project_id=project)
    raise SystemExit("another account's profile was changed")
except exceptions.Forbidden:
    print("refused: another account's login profile (403)")
print(f"oslogin: imported, listed and deleted a key for {posix[0].username}")
print("python client: ok")
