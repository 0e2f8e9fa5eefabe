#!/bin/sh
# seb-init: the pod's egress rules, installed by the init container before any other container
# starts (README "Sidecar injection", SPEC §11). Only the broker's UID may leave the pod's
# loopback; every other UID (the agent's) gets DNS, replies on connections made to it, and the
# SEB_AGENT_EGRESS allow-list, and a fast, readable refusal for anything else: no route to the
# apiserver, AWS or the instance metadata service that bypasses the broker.
#
# Environment:
#   SEB_BROKER_UID        the broker's UID (default 15000)
#   SEB_AGENT_EGRESS      comma-separated CIDR:PORT (TCP) the agent may still reach; entries that
#                         cover IMDS, the ECS or EKS Pod Identity credential endpoints are refused
#   SEB_IPTABLES_BACKEND  auto (default), nft or legacy
#   SEB_INIT_DRY_RUN      1: print the IPv4 and IPv6 rule sets instead of applying them
# Exit status: 0 applied (or printed), 1 the kernel refused the rules, 2 bad environment.
set -eu

CHAIN=SEB_OUTPUT
MAX_UID=2147483647
# IMDS, the ECS task credential endpoint, the EKS Pod Identity agent; IMDS over IPv6 (Nitro).
METADATA_V4='169.254.169.254 169.254.170.2 169.254.170.23'
METADATA_V6='fd00:ec2::254'

die() {
  printf 'seb-init: %s\n' "$*" >&2
  exit 2
}

# A decimal integer without sign or leading zeros.
is_number() {
  case $1 in
    '' | *[!0-9]* | 0?*) return 1 ;;
  esac
  [ ${#1} -le 10 ]
}

# Dotted quad -> 32-bit integer on stdout; fails on anything else.
ipv4_value() {
  case $1 in
    *[!0-9.]* | .* | *. | *..*) return 1 ;;
  esac
  old_ifs=$IFS
  IFS=.
  # shellcheck disable=SC2086 # splitting on dots is the point
  set -- $1
  IFS=$old_ifs
  [ $# -eq 4 ] || return 1
  value=0
  for octet in "$@"; do
    is_number "$octet" && [ "$octet" -le 255 ] || return 1
    value=$((value * 256 + octet))
  done
  echo "$value"
}

# Hex IPv6 -> its eight 16-bit groups in decimal, space-separated; fails on anything else.
ipv6_groups() {
  addr=$1
  case $addr in
    '' | *[!0-9a-fA-F:]* | *:::*) return 1 ;;
  esac
  head=$addr
  tail=
  compressed=0
  case $addr in
    *::*)
      head=${addr%%::*}
      tail=${addr#*::}
      compressed=1
      case $tail in *::*) return 1 ;; esac
      ;;
  esac
  for part in "$head" "$tail"; do
    case $part in :* | *:) return 1 ;; esac
  done
  head_groups=$(split_groups "$head") || return 1
  tail_groups=$(split_groups "$tail") || return 1
  # shellcheck disable=SC2086
  count=$(($(set -- $head_groups && echo $#) + $(set -- $tail_groups && echo $#)))
  if [ "$compressed" = 1 ]; then
    [ "$count" -le 7 ] || return 1
  else
    [ "$count" -eq 8 ] || return 1
  fi
  zeros=
  i=$count
  while [ "$i" -lt 8 ]; do
    zeros="$zeros 0"
    i=$((i + 1))
  done
  # shellcheck disable=SC2086
  echo $head_groups $zeros $tail_groups
}

split_groups() {
  [ -n "$1" ] || return 0
  old_ifs=$IFS
  IFS=:
  # shellcheck disable=SC2086
  set -- $1
  IFS=$old_ifs
  out=
  for group in "$@"; do
    case $group in '' | ?????*) return 1 ;; esac
    out="$out $((0x$group))"
  done
  echo "$out"
}

# covers_v4 NETWORK PREFIX ADDRESS: whether NETWORK/PREFIX holds ADDRESS (all as integers).
covers_v4() {
  if [ "$2" -eq 0 ]; then return 0; fi
  mask=$(((0xFFFFFFFF << (32 - $2)) & 0xFFFFFFFF))
  [ $(($1 & mask)) -eq $(($3 & mask)) ]
}

# covers_v6 "GROUPS" PREFIX "GROUPS": the same, group by group.
covers_v6() {
  bits_left=$2
  # shellcheck disable=SC2086
  set -- $1 $3
  i=1
  while [ "$i" -le 8 ] && [ "$bits_left" -gt 0 ]; do
    # No `local` in POSIX sh: these names are this function's alone.
    eval "c6_net=\${$i} c6_addr=\${$((i + 8))}"
    bits=16
    [ "$bits_left" -lt 16 ] && bits=$bits_left
    mask=$(((0xFFFF << (16 - bits)) & 0xFFFF))
    [ $((c6_net & mask)) -eq $((c6_addr & mask)) ] || return 1
    bits_left=$((bits_left - bits))
    i=$((i + 1))
  done
  return 0
}

# Appends an allow rule for one CIDR:PORT entry to V4_ALLOW or V6_ALLOW, or dies naming it.
allow_entry() {
  entry=$1
  port=${entry##*:}
  cidr=${entry%:*}
  case $entry in *:*) ;; *) die "SEB_AGENT_EGRESS: \"$entry\" is not CIDR:PORT" ;; esac
  case $cidr in */*/*) die "SEB_AGENT_EGRESS: \"$entry\" is not CIDR:PORT" ;; */*) ;; *) die "SEB_AGENT_EGRESS: \"$entry\" is not CIDR:PORT" ;; esac
  addr=${cidr%/*}
  prefix=${cidr#*/}
  if ! is_number "$port" || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    die "SEB_AGENT_EGRESS: \"$entry\": the port must be 1-65535"
  fi
  is_number "$prefix" || die "SEB_AGENT_EGRESS: \"$entry\": bad prefix length"
  if value=$(ipv4_value "$addr"); then
    [ "$prefix" -le 32 ] || die "SEB_AGENT_EGRESS: \"$entry\": bad prefix length"
    for target in $METADATA_V4; do
      if covers_v4 "$value" "$prefix" "$(ipv4_value "$target")"; then
        die "SEB_AGENT_EGRESS: \"$entry\" covers $target, a credential endpoint the agent must never reach"
      fi
    done
    V4_ALLOW="$V4_ALLOW
-A $CHAIN -d $addr/$prefix -p tcp -m tcp --dport $port -j RETURN"
  elif groups=$(ipv6_groups "$addr"); then
    [ "$prefix" -le 128 ] || die "SEB_AGENT_EGRESS: \"$entry\": bad prefix length"
    for target in $METADATA_V6; do
      if covers_v6 "$groups" "$prefix" "$(ipv6_groups "$target")"; then
        die "SEB_AGENT_EGRESS: \"$entry\" covers $target, a credential endpoint the agent must never reach"
      fi
    done
    V6_ALLOW="$V6_ALLOW
-A $CHAIN -d $addr/$prefix -p tcp -m tcp --dport $port -j RETURN"
  else
    die "SEB_AGENT_EGRESS: \"$entry\": not an IPv4 or hex IPv6 address"
  fi
}

# One iptables-restore input for the filter table. It replaces the whole table, so running it
# again (a restarted pod sandbox) gives the same rules, never a second copy.
rule_set() {
  family=$1 allow=$2 unreachable=$3
  cat <<EOF
# seb-init $family rules: only UID $BROKER_UID leaves the pod
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:$CHAIN - [0:0]
-A OUTPUT -j $CHAIN
-A $CHAIN -o lo -j RETURN
-A $CHAIN -m owner --uid-owner $BROKER_UID -j RETURN
-A $CHAIN -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A $CHAIN -p udp -m udp --dport 53 -j RETURN
-A $CHAIN -p tcp -m tcp --dport 53 -j RETURN$allow
-A $CHAIN -p tcp -j REJECT --reject-with tcp-reset
-A $CHAIN -j REJECT --reject-with $unreachable
COMMIT
EOF
}

# The netfilter backend: one already holding rules in this network namespace wins (mixing the
# two makes the kernel evaluate both); otherwise nft where the kernel has it, else legacy.
pick_backend() {
  if [ "$BACKEND" != auto ]; then
    echo "$BACKEND"
  elif command -v iptables-legacy-save >/dev/null 2>&1 && iptables-legacy-save 2>/dev/null | grep -q '^-A'; then
    echo legacy
  elif command -v iptables-nft >/dev/null 2>&1 && iptables-nft -S OUTPUT >/dev/null 2>&1; then
    echo nft
  else
    echo legacy
  fi
}

# restore BACKEND iptables|ip6tables RULES: applies one rule set atomically (all or nothing).
# The multi-call binary is tried first: it serves both families even where an image ships only
# the IPv4 links.
restore() {
  if command -v "xtables-$1-multi" >/dev/null 2>&1; then
    printf '%s\n' "$3" | "xtables-$1-multi" "$2-restore" || refused "$1" "$2"
  elif command -v "$2-$1-restore" >/dev/null 2>&1; then
    printf '%s\n' "$3" | "$2-$1-restore" || refused "$1" "$2"
  else
    printf 'seb-init: this image has neither xtables-%s-multi nor %s-%s-restore\n' "$1" "$2" "$1" >&2
    exit 1
  fi
}

refused() {
  printf 'seb-init: %s-restore (%s) refused the rules; SEB_IPTABLES_BACKEND=nft or legacy picks the other backend\n' "$2" "$1" >&2
  exit 1
}

BROKER_UID=${SEB_BROKER_UID-15000}
EGRESS=${SEB_AGENT_EGRESS-}
BACKEND=${SEB_IPTABLES_BACKEND-auto}
DRY_RUN=${SEB_INIT_DRY_RUN-0}

if ! is_number "$BROKER_UID" || [ "$BROKER_UID" -lt 1 ] || [ "$BROKER_UID" -gt "$MAX_UID" ]; then
  die "SEB_BROKER_UID must be a UID from 1 to $MAX_UID, got \"$BROKER_UID\""
fi
case $BACKEND in auto | nft | legacy) ;; *) die "SEB_IPTABLES_BACKEND must be auto, nft or legacy, got \"$BACKEND\"" ;; esac
case $DRY_RUN in 0 | 1) ;; *) die "SEB_INIT_DRY_RUN must be 0 or 1, got \"$DRY_RUN\"" ;; esac

V4_ALLOW=
V6_ALLOW=
set -f
old_ifs=$IFS
IFS=,
# shellcheck disable=SC2086
set -- $EGRESS
IFS=$old_ifs
for raw in "$@"; do
  entry=$raw
  while :; do
    case $entry in
      ' '*) entry=${entry# } ;;
      *' ') entry=${entry% } ;;
      *) break ;;
    esac
  done
  [ -n "$entry" ] && allow_entry "$entry"
done

V4_RULES=$(rule_set IPv4 "$V4_ALLOW" icmp-port-unreachable)
V6_RULES=$(rule_set IPv6 "$V6_ALLOW" icmp6-port-unreachable)

if [ "$DRY_RUN" = 1 ]; then
  printf '%s\n' "$V4_RULES" "$V6_RULES"
  exit 0
fi

backend=$(pick_backend)
restore "$backend" iptables "$V4_RULES"
# A kernel without IPv6 has no IPv6 route to close; one with it must get the rules or fail.
if [ -e /proc/net/if_inet6 ]; then
  restore "$backend" ip6tables "$V6_RULES"
else
  printf 'seb-init: IPv6 is disabled in this kernel; IPv4 rules only\n' >&2
fi
printf 'seb-init: %s rules installed; only UID %s leaves the pod\n' "$backend" "$BROKER_UID" >&2
