# Sourced by the bench scripts: a private sshd (Debian's /usr/sbin/sshd, its own config and keys,
# key auth only, one allowed user) for a benchmark to run against.
#
# bench_sshd WORK LISTEN PORT USER [EXTRA-CONFIG-LINE...]
#   Writes WORK/host_key, WORK/id_ed25519 (the client key, authorised) and WORK/sshd_config,
#   starts sshd in the background (under the command in the array bench_sshd_prefix, if set:
#   e.g. `ip netns exec NS`), waits until it listens, and sets bench_sshd_pid. Its log is
#   WORK/sshd.log. The caller stops it (kill "$bench_sshd_pid").
bench_sshd() {
  local work=$1 listen=$2 port=$3 user=$4
  shift 4
  ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$work/id_ed25519"
  cp "$work/id_ed25519.pub" "$work/authorized_keys"
  chmod 644 "$work/authorized_keys"
  mkdir -p /run/sshd
  {
    printf '%s\n' "Port $port" "ListenAddress $listen" "HostKey $work/host_key" \
      "PidFile $work/sshd.pid" "AuthorizedKeysFile $work/authorized_keys" "StrictModes no" \
      "AllowUsers $user" "PubkeyAuthentication yes" "PasswordAuthentication no" \
      "KbdInteractiveAuthentication no" "UsePAM yes" "UseDNS no" "PrintMotd no" \
      "Subsystem sftp /usr/lib/openssh/sftp-server" "LogLevel INFO"
    [ $# -eq 0 ] || printf '%s\n' "$@"
  } >"$work/sshd_config"
  ${bench_sshd_prefix[@]+"${bench_sshd_prefix[@]}"} /usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
  bench_sshd_pid=$!
  local _
  for _ in $(seq 1 100); do
    grep -q "Server listening on $listen port $port" "$work/sshd.log" 2>/dev/null && return 0
    kill -0 "$bench_sshd_pid" 2>/dev/null || { echo "sshd failed:" >&2; cat "$work/sshd.log" >&2; return 1; }
    sleep 0.05
  done
  echo "sshd did not start listening on $listen:$port:" >&2
  cat "$work/sshd.log" >&2
  return 1
}
