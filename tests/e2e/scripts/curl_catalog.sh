#!/bin/sh
# Token by POST /v3/auth/tokens, then the image and flavor lists through the catalog's URLs.
# Prints the image and flavor names (stable output to compare traced and untraced runs).
set -eu
body=$(printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"%s","domain":{"name":"Default"},"password":"%s"}}},"scope":{"project":{"name":"%s","domain":{"name":"Default"}}}}}' "$OS_USERNAME" "$OS_PASSWORD" "$OS_PROJECT_NAME")
out=$(curl -sS -D - -o /tmp/curl_catalog.$$ -H 'Content-Type: application/json' -d "$body" "$OS_AUTH_URL/auth/tokens")
token=$(printf '%s' "$out" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p')
url() { python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['token']['catalog']; print([e['url'] for s in c if s['type']==sys.argv[2] for e in s['endpoints'] if e['interface']=='public'][0])" /tmp/curl_catalog.$$ "$1"; }
image=$(url image); compute=$(url compute)
rm -f /tmp/curl_catalog.$$
curl -sS -H "X-Auth-Token: $token" "$image/v2/images" | python3 -c "import json,sys; print(sorted(i['name'] for i in json.load(sys.stdin)['images']))"
curl -sS -H "X-Auth-Token: $token" "$compute/flavors" | python3 -c "import json,sys; print(sorted(f['name'] for f in json.load(sys.stdin)['flavors']))"
