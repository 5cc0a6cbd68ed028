#!/bin/sh
echo "script one $X from $0"
