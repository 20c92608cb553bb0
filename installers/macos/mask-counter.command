#!/bin/sh
# "Mask Counter" in /Applications: Finder opens a .command file in Terminal, which is where the
# counter screen runs. The account must be in the group mask-counter (see installers/README.md).
printf '\033[8;32;100t'  # ask Terminal for a window the screen fits in (100×32)
exec /usr/local/bin/mask-terminal "$@"
