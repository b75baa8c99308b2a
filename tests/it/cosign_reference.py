"""An independent implementation of cosign's key and signature formats,
written from cosign's specification (docs/specs/SIGNATURE_SPEC.md and the
go-securesystemslib `encrypted` envelope) with Python's `cryptography`,
`hashlib.scrypt` and PyNaCl, to check scopectl against.

    open-key KEY PASSWORD PUB          decrypt a cosign private key; its
                                       public half must be PUB
    new-key PREFIX                     PREFIX.pem (PKCS#8) and PREFIX.pub
    verify REGISTRY REPO TAG PUB       verify the signature at the
                                       sha256-<hex>.sig tag
    verify-layout DIR PUB              the same inside an OCI image layout
    verify-attestation DIR PUB         the DSSE-signed in-toto provenance
                                       layer of the layout's generation
    sign REGISTRY REPO TAG PEM [--tamper]
                                       push a signature of REPO:TAG made
                                       with PEM (--tamper: a broken one)
"""

import base64
import hashlib
import json
import sys
import urllib.request

import nacl.secret
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def pem_body(text, label):
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    body = text[text.index(begin) + len(begin) : text.index(end)]
    return base64.b64decode("".join(body.split()))


def open_key(key_path, password, pub_path):
    envelope = json.loads(pem_body(open(key_path).read(), "ENCRYPTED SIGSTORE PRIVATE KEY"))
    kdf = envelope["kdf"]
    assert kdf["name"] == "scrypt", kdf
    assert envelope["cipher"]["name"] == "nacl/secretbox", envelope["cipher"]
    params = kdf["params"]
    secret = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(kdf["salt"]),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    pkcs8 = nacl.secret.SecretBox(secret).decrypt(
        base64.b64decode(envelope["ciphertext"]),
        base64.b64decode(envelope["cipher"]["nonce"]),
    )
    private = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(private.curve, ec.SECP256R1), private.curve
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert private.public_key().public_bytes(*spki) == public.public_bytes(*spki)
    print("opened")


def new_key(prefix):
    private = ec.generate_private_key(ec.SECP256R1())
    with open(prefix + ".pem", "wb") as f:
        f.write(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(prefix + ".pub", "wb") as f:
        f.write(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def get(registry, path, accept=None):
    request = urllib.request.Request(f"http://{registry}/v2/{path}")
    if accept:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def triangulate(signed):
    return signed.replace(":", "-", 1) + ".sig"


def check(signed, signatures, blob, pub_path):
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    for layer in json.loads(signatures)["layers"]:
        if layer["mediaType"] != PAYLOAD_TYPE:
            continue
        payload = blob(layer["digest"])
        assert digest(payload) == layer["digest"]
        signature = base64.b64decode(layer["annotations"][ANNOTATION])
        public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        claims = json.loads(payload)["critical"]
        assert claims["type"] == "cosign container image signature", claims
        assert claims["image"]["docker-manifest-digest"] == signed, claims
        print("verified", signed)
        return
    sys.exit("no simple-signing layer")


def verify(registry, repo, tag, pub_path):
    signed = digest(get(registry, f"{repo}/manifests/{tag}", MANIFEST_TYPE))
    signatures = get(registry, f"{repo}/manifests/{triangulate(signed)}", MANIFEST_TYPE)
    check(signed, signatures, lambda d: get(registry, f"{repo}/blobs/{d}"), pub_path)


def verify_layout(directory, pub_path):
    def blob(d):
        return open(f"{directory}/blobs/sha256/{d.split(':', 1)[1]}", "rb").read()

    index = json.load(open(f"{directory}/index.json"))
    by_tag = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
    signed = next(m["digest"] for t, m in by_tag.items() if not t.endswith(".sig"))
    assert digest(blob(signed)) == signed
    check(signed, blob(by_tag[triangulate(signed)]["digest"]), blob, pub_path)


def verify_attestation(directory, pub_path):
    def blob(d):
        return open(f"{directory}/blobs/sha256/{d.split(':', 1)[1]}", "rb").read()

    index = json.load(open(f"{directory}/index.json"))
    manifest = next(
        m for m in index["manifests"]
        if not m["annotations"]["org.opencontainers.image.ref.name"].endswith(".sig")
    )
    layers = json.loads(blob(manifest["digest"]))["layers"]
    layer = next(l for l in layers if l["mediaType"] == "application/vnd.dsse.envelope.v1+json")
    envelope = json.loads(blob(layer["digest"]))
    payload = base64.b64decode(envelope["payload"])
    kind = envelope["payloadType"]
    pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind.encode(), len(payload), payload)
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1", statement
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1", statement
    host = next(l for l in layers if l["annotations"]["org.opencontainers.image.title"] == "scope-host")
    assert statement["subject"][0]["digest"]["sha256"] == host["digest"].split(":", 1)[1]
    print("attested", host["digest"])


def upload(registry, repo, data):
    start = urllib.request.Request(
        f"http://{registry}/v2/{repo}/blobs/uploads/", method="POST", data=b""
    )
    with urllib.request.urlopen(start, timeout=30) as answer:
        location = answer.headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry}{location}"
    separator = "&" if "?" in location else "?"
    put = urllib.request.Request(
        f"{location}{separator}digest={digest(data)}", method="PUT", data=data
    )
    put.add_header("Content-Type", "application/octet-stream")
    urllib.request.urlopen(put, timeout=30).read()
    return {"digest": digest(data), "size": len(data)}


def sign(registry, repo, tag, pem_path, tamper):
    private = serialization.load_pem_private_key(open(pem_path, "rb").read(), password=None)
    signed = digest(get(registry, f"{repo}/manifests/{tag}", MANIFEST_TYPE))
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": f"{registry}/{repo}"},
                "image": {"docker-manifest-digest": signed},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    signature = bytearray(private.sign(payload, ec.ECDSA(hashes.SHA256())))
    if tamper:
        signature[-1] ^= 0x01
    layer = upload(registry, repo, payload)
    layer.update(
        mediaType=PAYLOAD_TYPE,
        annotations={ANNOTATION: base64.b64encode(bytes(signature)).decode()},
    )
    config = json.dumps(
        {"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}
    ).encode()
    config_descriptor = upload(registry, repo, config)
    config_descriptor["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config_descriptor, "layers": [layer]}
    ).encode()
    put = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{triangulate(signed)}", method="PUT", data=manifest
    )
    put.add_header("Content-Type", MANIFEST_TYPE)
    urllib.request.urlopen(put, timeout=30).read()
    print("signed", signed)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "open-key":
        open_key(*args)
    elif command == "new-key":
        new_key(*args)
    elif command == "verify":
        verify(*args)
    elif command == "verify-layout":
        verify_layout(*args)
    elif command == "verify-attestation":
        verify_attestation(*args)
    elif command == "sign":
        sign(*args[:4], tamper="--tamper" in args[4:])
    else:
        sys.exit(f"unknown command {command}")
