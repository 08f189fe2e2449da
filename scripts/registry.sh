#!/usr/bin/env bash
# The registry's commands with the same settings as serve.sh (PORT too, if the server uses one):
#   scripts/registry.sh keys list | log checkpoint | audit-log | verify-offline ... | --help
source "$(dirname "$0")/_env.sh" requirements.txt
source "$(dirname "$0")/_instance_env.sh"
exec flask --app wsgi registry "$@"
