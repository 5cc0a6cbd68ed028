#!/bin/sh
echo "script two $X"
