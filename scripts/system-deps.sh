#!/usr/bin/env bash
# Install the Debian packages wakeword needs, only those that are missing (idempotent).
#   espeak-ng, flite    offline speech synthesis for the simulated fleet and tests
#   wamerican           an English word list (SCOWL) for the fleet's other speech
#   wordnet-base        WordNet 3.0 (Princeton's license: any use): its ~48k example sentences are
#                       natural English for the server's other people to say (--server-sentences)
#   asterisk-moh-opsound-wav  real music (5 tracks) for the fleet's background noise
#   asterisk-core-sounds-{en,es,fr,it,ru}-wav  real recorded speech (voice prompts of 4 people)
#                       that the server's pre-training adds to its negatives
#   sox                 audio inspection and conversion for users
#   libportaudio2       PortAudio, used by sounddevice for the microphone
#   pulseaudio, pulseaudio-utils, libasound2-plugins
#                       a virtual microphone (null sink) for the microphone tests
#   gcc, libc6-dev      to build the bind shim that keeps TFF's worker on loopback
set -euo pipefail
packages=(espeak-ng flite wamerican wordnet-base asterisk-moh-opsound-wav
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav sox libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Python 3.11 with venv (Debian 12's python3), unless one is already there (e.g. pyenv).
if ! "$(dirname "$0")/find-python.sh" >/dev/null 2>&1; then
  missing+=(python3.11 python3.11-venv)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "wakeword setup: missing system packages (${missing[*]}) and no apt-get: install them with your package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "wakeword setup: run as root or install sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "wakeword setup: installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
