#!/usr/bin/env bash
# Install the Debian packages the test suite needs, if missing: PostgreSQL (the
# prediction-log test starts a throwaway cluster from its binaries).
#
# Idempotent, and never fails the build: without root or apt-get it says what it
# skipped, and the PostgreSQL test then skips with the reason.
#   scripts/install_system_packages.sh          # from the Makefile's set-up
set -u

# Fashion-MNIST for the image task: `loopwatch images fetch` falls back to this Debian
# package's files when the zalandoresearch URLs are unreachable (the image tests skip
# without it). Its own block: a failure here must not stop the PostgreSQL part.
install_fashion_mnist() {
    local pkg=dataset-fashion-mnist
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        echo "system packages: $pkg already installed"
    elif ! command -v apt-get >/dev/null 2>&1; then
        echo "system packages: no apt-get here; not installing $pkg (image tests will skip)"
    elif [ "$(id -u)" -ne 0 ]; then
        echo "system packages: not root; run: sudo apt-get install -y $pkg"
    elif DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -qq --no-install-recommends "$pkg"; }; then
        echo "system packages: installed $pkg"
    else
        echo "system packages: apt-get could not install $pkg (image tests will skip)"
    fi
}
install_fashion_mnist

PACKAGES=(postgresql)

have_initdb() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        echo "system packages: $pkg already installed"
    elif [ "$pkg" = postgresql ] && have_initdb; then
        echo "system packages: PostgreSQL binaries found (not from the Debian package)"
    else
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system packages: no apt-get here; not installing ${missing[*]}" \
         "(the PostgreSQL test will be skipped)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "system packages: not root; not installing ${missing[*]}" \
         "(run: sudo apt-get install -y ${missing[*]}; until then the PostgreSQL test skips)"
    exit 0
fi

echo "system packages: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
# Only the binaries: the tests run their own cluster, so the Debian one need not start.
if { apt-get update -qq || true; } && apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "system packages: installed ${missing[*]}"
else
    echo "system packages: apt-get could not install ${missing[*]}" \
         "(the PostgreSQL test will be skipped)"
fi
exit 0
