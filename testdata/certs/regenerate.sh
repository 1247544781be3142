#!/bin/sh
# Regenerates the certificate fixtures used by the unit tests of src/cert.rs, and the
# expectations they are checked against (as printed by `openssl x509`, the reference).
# Run from anywhere: sh testdata/certs/regenerate.sh   (needs the openssl CLI, 3.0 or later)
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A private RSA CA.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out ca-rsa.pem -days 3650 \
    -subj "/C=US/O=Reach Fixtures/CN=Reach Fixture Root" -set_serial 0x1001 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# An RSA leaf with DNS, wildcard and IP SANs, and a name that needs RFC 4514 escaping.
openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/rsa.key" -out "$tmp/rsa.csr" \
    -subj "/C=US/O=Example, Inc./OU=Web\\+Ops/CN=rsa.example.test"
printf '%s\n' "subjectAltName=DNS:rsa.example.test,DNS:*.rsa.example.test,IP:192.0.2.10,IP:2001:db8::1" \
    "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
    "authorityInfoAccess=caIssuers;URI:http://ca.example.test/root.crt" > "$tmp/rsa.ext"
openssl x509 -req -in "$tmp/rsa.csr" -CA ca-rsa.pem -CAkey "$tmp/ca.key" -set_serial 0x01A2B3C4 \
    -days 825 -sha256 -extfile "$tmp/rsa.ext" -out leaf-rsa.pem

# An ECDSA P-384 leaf signed by the RSA CA with SHA-384, and a multi-valued RDN.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$tmp/ec.key" \
    -out "$tmp/ec.csr" -multivalue-rdn -subj "/O=Reach/CN=ec.example.test+UID=ec1"
printf '%s\n' "subjectAltName=DNS:ec.example.test" "basicConstraints=CA:FALSE" > "$tmp/ec.ext"
openssl x509 -req -in "$tmp/ec.csr" -CA ca-rsa.pem -CAkey "$tmp/ca.key" -set_serial 0x7F \
    -days 90 -sha384 -extfile "$tmp/ec.ext" -out leaf-ec384.pem

# A self-signed Ed25519 certificate.
openssl req -x509 -newkey ed25519 -nodes -keyout "$tmp/ed.key" -out self-ed25519.pem -days 30 \
    -subj "/CN=ed25519.example.test" -set_serial 0x42 -addext "subjectAltName=DNS:ed25519.example.test"

for f in ca-rsa leaf-rsa leaf-ec384 self-ed25519; do
    openssl x509 -in "$f.pem" -outform DER -out "$f.der"
    {
        openssl x509 -in "$f.pem" -noout -nameopt RFC2253 -subject -issuer -serial \
            -dateopt iso_8601 -startdate -enddate
        openssl x509 -in "$f.pem" -noout -fingerprint -sha256 | sed 's/^.*Fingerprint=/sha256=/'
        openssl x509 -in "$f.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 \
            | sed 's/^ *//; s/^/sans=/'
        openssl x509 -in "$f.pem" -noout -text | grep -m1 'Signature Algorithm' \
            | sed 's/^ *Signature Algorithm: /signature=/'
    } > "$f.expect"
    rm "$f.pem"
done
