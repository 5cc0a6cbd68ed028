#!/bin/sh
echo "script sees $GREETING in $PWD"
exit 0
