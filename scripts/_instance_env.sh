# The per-install secrets and settings serve.sh and registry.sh share (sourced after _env.sh).
mkdir -p instance
if [ -z "${SECRET_KEY:-}${SECRET_KEY_FILE:-}" ]; then
  # A random per-install secret, never a default one shipped with the code.
  [ -s instance/secret_key ] || (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(48))' > instance/secret_key)
  export SECRET_KEY_FILE="$ROOT/instance/secret_key"
fi
if [ -z "${SEAL_KEY_PASSPHRASE:-}${SEAL_KEY_PASSPHRASE_FILE:-}" ]; then
  # The passphrase that encrypts the signing keys at rest: machine-generated, per install.
  [ -s instance/seal_key_passphrase ] || (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(32))' > instance/seal_key_passphrase)
  export SEAL_KEY_PASSPHRASE_FILE="$ROOT/instance/seal_key_passphrase"
fi
# Seal URLs and the log's name follow the host scanners reach; locally that is this server.
export PUBLIC_HOST="${PUBLIC_HOST:-127.0.0.1:${PORT:-5000}}"
