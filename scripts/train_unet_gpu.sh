#!/usr/bin/env bash
# Train the shipped classical checkpoint (checkpoints/unet_32) and its ablations on one GPU, in one go.
#
# Variants run side by side on the one GPU (small U-Nets are launch-bound, so three processes share it
# well): A = the shipped recipe (small U-Net, energy-conditioned), B = the same without the energy
# condition (ablation), C = the tiny U-Net with energy condition (a recipe a 2-core CPU re-creates).
# A short probe run first measures steps/s, so A and B get as many steps as fit in BUDGET_S seconds.
# Each variant is then sampled (2,000 quark + 2,000 gluon jets per sampler) for the held-out benchmark.
#   usage: BUDGET_S=330 OUT=outdir bash scripts/train_unet_gpu.sh [python] [--quick]
set -euo pipefail
PY="${1:-python3}"; QUICK="${2:-}"
OUT="${OUT:-runs/gpu}"; BUDGET_S="${BUDGET_S:-330}"; DEVICE="${DEVICE:-cuda}"
mkdir -p "$OUT"
common=(--model ddpm --size 32 --schedule cosine --prediction v --device "$DEVICE" --threads 4 --checkpoint-every 2000)
small=(--preset small --batch 256 --lr 5e-4 --warmup 500 --ema 0.9995)
tiny=(--preset tiny --batch 64 --lr 1e-3 --warmup 200 --ema 0.9995)
probe_steps=200; n_jets=2000; cap=20000
if [ "$QUICK" = "--quick" ]; then probe_steps=4; n_jets=8; cap=8; fi
# Probe: steps/s of the small recipe alone.
"$PY" -m core train "${common[@]}" "${small[@]}" --steps "$probe_steps" --out "$OUT/probe" >"$OUT/probe.log" 2>&1
rate=$("$PY" -c "import json,sys; c=json.load(open('$OUT/probe/model_card.json')); print(c['steps']/max(c['wall_time_s'],1e-3))")
# Three processes share the GPU: assume each runs at 60 % of the solo rate.
steps=$("$PY" -c "print(max(1000*(int($rate*0.6*$BUDGET_S)//1000), 1000) if '$QUICK'=='' else $cap)")
steps=$(( steps > cap ? cap : steps ))
echo "probe: $rate steps/s alone; training A and B for $steps steps"
"$PY" -m core train "${common[@]}" "${small[@]}" --steps "$steps" --seed 0 --out "$OUT/A" --inference-only >"$OUT/A.log" 2>&1 &
"$PY" -m core train "${common[@]}" "${small[@]}" --steps "$steps" --seed 0 --no-energy-condition --out "$OUT/B" --inference-only >"$OUT/B.log" 2>&1 &
tsteps=$([ "$QUICK" = "--quick" ] && echo 8 || echo 10000)
"$PY" -m core train "${common[@]}" "${tiny[@]}" --steps "$tsteps" --seed 0 --out "$OUT/C" --inference-only >"$OUT/C.log" 2>&1 &
wait
# Samples for the held-out benchmark: the fast sampler for every variant; DDIM 100 and DDPM 1000 (the
# best samplers, too slow for a CPU) for A, at half the count.
sample() {  # variant sampler steps n label
  local steps_s=$3; [ "$QUICK" = "--quick" ] && steps_s=4
  "$PY" -m core sample --checkpoint "$OUT/$1" --n "$4" --label "$5" --sampler "$2" --steps "$steps_s" \
    --device "$DEVICE" --batch 1000 --seed 11 --out "$OUT/$1/samples_${2}_$5.h5" >>"$OUT/$1.log" 2>&1
}
for label in quark gluon; do
  for v in A B C; do sample "$v" fast 20 "$n_jets" "$label" & done
  sample A ddim 100 $((n_jets / 2)) "$label" &
  sample A ddpm 1000 $((n_jets / 2)) "$label" &
done
wait
echo "done"; ls -la "$OUT"/*/
