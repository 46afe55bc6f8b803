#!/bin/sh
# Throwaway self-signed cert + key for the stand-in's HTTPS port (no CA, so any
# client using the system trust store must refuse it; tests pass it as --cacert
# to prove the opposite). Usage: make_cert.sh OUTDIR  -> OUTDIR/cert.pem, OUTDIR/key.pem
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
outdir=$1
mkdir -p "$outdir"
# -nodes: unencrypted key, the stand-in has no passphrase to give.
# SAN is what clients check; CN is only for people reading the cert.
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 \
    -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$outdir/key.pem" -out "$outdir/cert.pem" >/dev/null 2>&1 || {
    echo "make_cert.sh: openssl failed" >&2
    exit 1
}
chmod 600 "$outdir/key.pem"
