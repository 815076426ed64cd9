#!/bin/sh
# render-config: writes /config/relay.toml from the ConfigMap's /template/relay.toml, replacing
# each '@@secret:NAME/KEY@@' with the content of /secrets/services/NAME/KEY (one line, no ').
# Runs as the relay's init container (POSIX sh and awk from the relay image).
set -eu
umask 077
in="${TEMPLATE:-/template/relay.toml}"
out="${OUTPUT:-/config/relay.toml}"
"${AWK:-awk}" -v dir="${SECRETS_DIR:-/secrets/services}" '
{
    line = $0
    result = ""
    while (match(line, /@@secret:[^@]+@@/)) {
        ref = substr(line, RSTART + 9, RLENGTH - 11)
        file = dir "/" ref
        value = ""
        if ((getline value < file) < 0) {
            print "render-config: cannot read " file > "/dev/stderr"
            exit 1
        }
        close(file)
        sub(/\r$/, "", value)
        if (index(value, "\047") > 0) {
            print "render-config: " file " contains a single quote, which a TOML literal string cannot hold" > "/dev/stderr"
            exit 1
        }
        result = result substr(line, 1, RSTART - 1) value
        line = substr(line, RSTART + RLENGTH)
    }
    print result line
}' "$in" > "$out.tmp"
mv "$out.tmp" "$out"
echo "render-config: wrote $out"
