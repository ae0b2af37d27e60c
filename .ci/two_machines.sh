#!/usr/bin/env bash
# Two machines, simulated: two network namespaces joined by a veth pair, with addresses of their own
# (10.15.0.1 and 10.15.0.2, which exist only inside them). `mpiexec -hosts` starts one rank in each
# through a launcher that enters the host's namespace (in place of ssh), MPICH is forced onto TCP
# between them (libfabric's tcp provider on the veth, no shared memory), and `elman train` at 2 ranks
# must end with the same model, bit for bit, as the same run on one machine. The veth's counters
# show the traffic went across. Everything is removed at the end, whatever happens.
# Needs root (ip netns) and the venv with the "mpi" extra on PATH; run from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] || ! command -v ip > /dev/null; then
  echo "two_machines.sh: skipped (needs root and iproute2 for network namespaces)"
  exit 0
fi
bin=$(dirname "$(command -v python)")
[ -x "$bin/mpiexec" ] || { echo "two_machines.sh: no mpiexec beside $(command -v python)" >&2; exit 1; }

id=$$
a=elman-a-$id b=elman-b-$id
work=$(mktemp -d)
cleanup() {
  ip netns del "$a" 2> /dev/null || true
  ip netns del "$b" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip link add "ea$id" type veth peer name "eb$id"
ip link set "ea$id" netns "$a"
ip link set "eb$id" netns "$b"
# the same interface name on both "machines", so that one FI_TCP_IFACE fits both ranks
ip -n "$a" link set "ea$id" name elman0
ip -n "$b" link set "eb$id" name elman0
ip -n "$a" addr add 10.15.0.1/24 dev elman0
ip -n "$b" addr add 10.15.0.2/24 dev elman0
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set elman0 up
done

# What hydra runs instead of ssh: `launcher [options] HOST COMMAND...`, COMMAND run in HOST's namespace.
cat > "$work/launcher" << EOF
#!/usr/bin/env bash
while [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case \$host in
  10.15.0.1) ns=$a ;;
  10.15.0.2) ns=$b ;;
  *) echo "launcher: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$work/launcher"

python - "$work/corpus.txt" << 'EOF'
import sys
from pydoc_data.topics import topics
open(sys.argv[1], "w").write("".join(topics[k] for k in sorted(topics))[:300000])
EOF
run=(train "$work/corpus.txt" --steps 30 --hidden 64 --seq-len 16 --batch 8 --val-every 15 --dtype float64 --no-progress)
export ELMAN_NUM_THREADS=1

tx_bytes() { ip -n "$a" -s -j link show elman0 | python -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['tx']['bytes'])"; }
before=$(tx_bytes)
echo "== 2 ranks on 2 'machines' (namespaces $a, $b), MPICH over TCP on the veth"
ip netns exec "$a" env MPIR_CVAR_NOLOCAL=1 MPIR_CVAR_CH4_NETMOD=ofi FI_PROVIDER=tcp FI_TCP_IFACE=elman0 \
  timeout 300 "$bin/mpiexec" -hosts 10.15.0.1,10.15.0.2 -n 2 -ppn 1 -iface elman0 \
  -launcher ssh -launcher-exec "$work/launcher" \
  "$bin/python" -m elman "${run[@]}" --out "$work/two_machines.safetensors"
sent=$(( $(tx_bytes) - before ))

echo "== the same 2 ranks on one machine"
timeout 300 "$bin/mpiexec" -n 2 "$bin/python" -m elman "${run[@]}" --out "$work/one_machine.safetensors" > /dev/null

python - "$work" "$sent" << 'EOF'
import sys
import numpy as np
import elman
work, sent = sys.argv[1], int(sys.argv[2])
two, one = elman.load(f"{work}/two_machines.safetensors"), elman.load(f"{work}/one_machine.safetensors")
# 30 steps each sum the float64 gradient buffer across the veth: at least one copy of it per step
needed = 30 * two.num_params * 8
assert sent >= needed, f"only {sent} bytes left through the veth; expected at least {needed}: MPI did not use it"
assert np.array_equal(two.params.flat, one.params.flat), "the two-machine run differs from the one-machine run"
print(f"two machines: {sent:,} bytes through the veth, weights bit-identical to the one-machine 2-rank run")
EOF
