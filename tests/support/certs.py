"""Certificates for TLS tests, made by the ``openssl`` command line in a temporary folder."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d: Path) -> Certs:
    """A CA, a server and a client certificate it signed, and a self-signed stranger."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    _openssl(d, "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=ocr-server test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    usages = {"server": "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
              "client": "extendedKeyUsage=clientAuth"}
    for serial, (name, usage) in enumerate(usages.items(), start=1):
        (d / f"{name}.ext").write_text(f"{usage}\nbasicConstraints=CA:FALSE\n"
                                       "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        _openssl(d, "req", "-new", *key[:-2], "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}")
        _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-set_serial", str(serial), "-days", "2", "-out", f"{name}.pem",
                 "-extfile", f"{name}.ext")
    _openssl(d, "req", "-x509", *key, "-keyout", "stranger.key", "-out", "stranger.pem",
             "-subj", "/CN=stranger", "-addext", "extendedKeyUsage=clientAuth")
    return Certs(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem",
                 d / "client.key", d / "stranger.pem", d / "stranger.key")
