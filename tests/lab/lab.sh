#!/usr/bin/env bash
# The reach test lab: four network namespaces in a line, documentation addresses only.
#
#   NAME-c (client) ── NAME-r1 ── NAME-r2 ── NAME-s (server)
#
# Usage: lab.sh up NAME | lab.sh down NAME | lab.sh show NAME | lab.sh delay NAME MS
# See tests/lab/README.md for addresses, ports and firewall rules.
set -euo pipefail

usage() {
    echo "usage: $0 up|down|show NAME, or $0 delay NAME MS" >&2
    exit 64
}

[[ $# -eq 2 || ($# -eq 3 && $1 == delay) ]] || usage
action=$1
name=$2
delay_ms=${3:-}
[[ $name =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || { echo "lab.sh: bad lab name '$name'" >&2; exit 64; }

client=$name-c
r1=$name-r1
r2=$name-r2
server=$name-s
all=("$client" "$r1" "$r2" "$server")

in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

down() {
    local ns pids
    for ns in "${all[@]}"; do
        if ip netns list | grep -qx -- "$ns\( (id: [0-9]*)\)\?"; then
            # Processes still inside keep the namespace alive after `ip netns del`: end them.
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            if [[ -n $pids ]]; then
                # shellcheck disable=SC2086
                kill -KILL $pids 2>/dev/null || true
            fi
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}

# Creates namespace $1 with loopback up, IPv6 duplicate address detection off (so addresses are
# usable at once) and forwarding set to $2.
make_ns() {
    local ns=$1 forward=$2
    ip netns add "$ns"
    in_ns "$ns" sysctl -q -w \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
        net.ipv4.ip_forward="$forward" net.ipv6.conf.all.forwarding="$forward" \
        net.ipv6.conf.default.forwarding="$forward"
    in_ns "$ns" ip link set lo up
}

# Connects namespace $1 (interface $2) to namespace $3 (interface $4) with a veth pair created
# directly inside the namespaces, so no interface name is ever taken in the host namespace.
link() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    in_ns "$1" ip link set "$2" up
    in_ns "$3" ip link set "$4" up
}

addr() {
    in_ns "$1" ip addr add "$3" dev "$2" nodad 2>/dev/null || in_ns "$1" ip addr add "$3" dev "$2"
}

up() {
    down
    trap 'down' ERR
    make_ns "$client" 0
    make_ns "$r1" 1
    make_ns "$r2" 1
    make_ns "$server" 0

    link "$client" eth0 "$r1" eth0
    link "$r1" eth1 "$r2" eth0
    link "$r2" eth1 "$server" eth0

    addr "$client" eth0 192.0.2.2/24
    addr "$client" eth0 2001:db8:1::2/64
    addr "$r1" eth0 192.0.2.1/24
    addr "$r1" eth0 2001:db8:1::1/64
    addr "$r1" eth1 198.51.100.1/24
    addr "$r1" eth1 2001:db8:2::1/64
    addr "$r2" eth0 198.51.100.2/24
    addr "$r2" eth0 2001:db8:2::2/64
    addr "$r2" eth1 203.0.113.1/24
    addr "$r2" eth1 2001:db8:3::1/64
    addr "$server" eth0 203.0.113.10/24
    addr "$server" eth0 2001:db8:3::10/64

    in_ns "$client" ip route add default via 192.0.2.1
    in_ns "$client" ip -6 route add default via 2001:db8:1::1
    in_ns "$r1" ip route add 203.0.113.0/24 via 198.51.100.2
    in_ns "$r1" ip -6 route add 2001:db8:3::/64 via 2001:db8:2::2
    in_ns "$r2" ip route add 192.0.2.0/24 via 198.51.100.1
    in_ns "$r2" ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1
    in_ns "$server" ip route add default via 203.0.113.1
    in_ns "$server" ip -6 route add default via 2001:db8:3::1

    # The client's own firewall refuses 61006 on the way out (a local policy, not the network).
    in_ns "$client" nft -f - <<'NFT'
table inet lab {
    chain output {
        type filter hook output priority filter; policy accept;
        tcp dport 61006 reject with icmpx type admin-prohibited
    }
}
NFT
    # r1 rejects in its forward chain, i.e. after its own TTL check: a TTL-1 SYN still gets
    # "time exceeded" from r1, the rejection comes for TTL >= 2 (from r1's address).
    in_ns "$r1" nft -f - <<'NFT'
table inet lab {
    chain forward {
        type filter hook forward priority filter; policy accept;
        tcp dport 61001 reject with icmpx type admin-prohibited
        tcp dport 61005 reject with icmpx type port-unreachable
        # UDP (UDP probes, QUIC): a firewall's admin-prohibited and port-unreachable.
        udp dport 61001 reject with icmpx type admin-prohibited
        udp dport 61005 reject with icmpx type port-unreachable
    }
}
NFT
    # r2 filters at prerouting, before its TTL check, like a firewall in front of the router:
    # for these ports r2 never says "time exceeded"; 61000 vanishes, 61002 gets a forged RST
    # (source: the server's address) already for TTL 2, one hop short of the server.
    in_ns "$r2" nft -f - <<'NFT'
table inet lab {
    chain prerouting {
        type filter hook prerouting priority filter; policy accept;
        tcp dport 61000 drop
        tcp dport 61002 reject with tcp reset
        # QUIC (UDP): vanishes, for the filtered case.
        udp dport 61000 drop
    }
}
NFT
    trap - ERR
}

# Adds MS milliseconds to everything r2 forwards towards the client's IPv4 network (so every
# IPv4 round trip between client and server takes MS longer): the kernel has no netem, so r2
# routes those packets through a TUN device served by delay.py, which hands them back MS later;
# packets coming back out of the TUN device follow table 100, the original route.
delay() {
    [[ $delay_ms =~ ^[0-9]{1,5}$ ]] || usage
    in_ns "$r2" python3 "$(dirname "$0")/delay.py" dly0 "$delay_ms" </dev/null >/dev/null 2>&1 &
    disown
    local _
    for _ in $(seq 50); do
        in_ns "$r2" ip link show dly0 >/dev/null 2>&1 && break
        sleep 0.1
    done
    in_ns "$r2" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.dly0.rp_filter=0
    in_ns "$r2" ip link set dly0 up
    in_ns "$r2" ip route add 192.0.2.0/24 via 198.51.100.1 dev eth0 table 100
    in_ns "$r2" ip rule add iif dly0 lookup 100 pref 100
    in_ns "$r2" ip route replace 192.0.2.0/24 dev dly0
}

show() {
    local ns
    for ns in "${all[@]}"; do
        echo "== $ns"
        in_ns "$ns" ip -br addr
        in_ns "$ns" ip route
        in_ns "$ns" ip -6 route
        in_ns "$ns" nft list ruleset
    done
}

case $action in
    up) up ;;
    down) down ;;
    show) show ;;
    delay) delay ;;
    *) usage ;;
esac
