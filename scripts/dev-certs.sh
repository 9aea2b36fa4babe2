#!/bin/sh
# Makes a throwaway PKI for running bbs over mutual TLS on a laptop (never for production):
# a CA, a server certificate for localhost/127.0.0.1 and a client certificate, RSA 2048
# (TLS 1.2 peers need an RSA server key), valid for 30 days.
#
#   scripts/dev-certs.sh [directory]      # default ./bbs-certs
#
# Files: ca.crt ca.key server.crt server.key client.crt client.key
set -eu

dir=${1:-./bbs-certs}
mkdir -p "$dir"
cd "$dir"
umask 077

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
  -subj "/CN=bbs dev CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() { # name common-name extended-key-usage [subjectAltName]
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    if [ -n "${4:-}" ]; then echo "subjectAltName=$4"; fi
  } > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

issue server bbs.service.cf.internal serverAuth \
  "DNS:localhost,DNS:bbs.service.cf.internal,IP:127.0.0.1,IP:::1"
issue client "bbs dev client" clientAuth
rm -f ca.srl
chmod 644 ca.crt server.crt client.crt

echo "wrote $(pwd): ca.crt server.crt server.key client.crt client.key (and ca.key)"
