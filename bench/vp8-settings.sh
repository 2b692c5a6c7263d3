#!/bin/bash
# vp8-settings.sh — CPU and picture quality of VP8 encoder settings at the bench
# call's bitrate (issue 6 item 2, docs/BENCHMARKS.md "CPU per call: fewer
# hand-offs, and the codec question").
#
# Why: the CPU target could only be met with less codec work than WebRTC does;
# this measures what each faster setting saves and what it costs in quality, on
# the picture of the bench's CPU part (SMPTE bars moving 4 px per frame with a
# patch of fresh noise, 640x480@30), 20 s, at 1,700 kbit/s CBR.
#
# How: the source is written once as y4m (276 MB in a temp dir, removed at the
# end). Each setting is the product's vp8enc configuration (media/tv-media.c,
# build_video_send) with the listed properties added, encoded three times with
# gst-launch-1.0 (CPU = user + system of the process, median, minus a run
# without the encoder), decoded three times (vp8dec, 1 thread, to fakesink), and
# decoded once more into tv-bench-yuvq for PSNR/SSIM against the source.
# Offline and single-process: the figures compare settings with each other, not
# with a call (a call's encoder thread also pays its share of cache and core
# contention with the other client).
#
# Usage: bench/vp8-settings.sh BUILD_DIR ["LABEL|vp8enc props|caps after vp8enc" ...]
#   (run it under flock /tmp/tv-heavy.lock on a shared machine; make bench-vp8)
set -euo pipefail
B=${1:?usage: vp8-settings.sh BUILD_DIR [settings...]}
shift
YUVQ=$B/tv-bench-yuvq
[ -x "$YUVQ" ] || { echo "vp8-settings.sh: $YUVQ missing (make B=$B $YUVQ)" >&2; exit 1; }
if [ $# -eq 0 ]; then
  set -- "-6 (ours, WebRTC's)|cpu-used=-6|" "-4|cpu-used=-4|" "-8|cpu-used=-8|" "-10|cpu-used=-10|" \
    "-12|cpu-used=-12|" "-16|cpu-used=-16|" "-6, static-threshold 100|cpu-used=-6 static-threshold=100|" \
    "-6, static-threshold 800|cpu-used=-6 static-threshold=800|" "-6, sharpness 7|cpu-used=-6 sharpness=7|" \
    "-6, tuning ssim|cpu-used=-6 tuning=ssim|" "-6, VP8 profile 1|cpu-used=-6|video/x-vp8,profile=(string)1"
fi
T=$(mktemp -d /tmp/tv-vp8-settings.XXXXXX)
trap 'rm -rf "$T"' EXIT
SRC=$T/source.y4m
gst-launch-1.0 -q videotestsrc num-buffers=600 pattern=smpte horizontal-speed=4 \
  ! video/x-raw,format=I420,width=640,height=480,framerate=30/1,pixel-aspect-ratio=1/1 ! y4menc \
  ! filesink location="$SRC"
# The product's settings (build_video_send) at the bench's 1,700 kbit/s.
BASE="deadline=1 threads=1 lag-in-frames=0 keyframe-max-dist=60 target-bitrate=1700000 undershoot=95
      buffer-size=1000 buffer-initial-size=500 buffer-optimal-size=600 max-quantizer=56 end-usage=cbr
      error-resilient=default"
cpu () { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{ printf "%.2f", $1 + $2 }'; }
median3 () { printf '%s\n' "$@" | sort -n | sed -n 2p; }
read_cpu=$(median3 "$(cpu gst-launch-1.0 -q filesrc location="$SRC" ! y4mdec ! fakesink)" \
                   "$(cpu gst-launch-1.0 -q filesrc location="$SRC" ! y4mdec ! fakesink)" \
                   "$(cpu gst-launch-1.0 -q filesrc location="$SRC" ! y4mdec ! fakesink)")
echo "source: 600 frames 640x480@30, SMPTE bars moving 4 px/frame + noise; reading it alone: $read_cpu s"
echo
echo "| setting | encode CPU, s (median of 3) | decode CPU, s | kbit/s | PSNR-Y, dB | PSNR-YUV, dB | SSIM-Y |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for s in "$@"; do
  IFS='|' read -r label props caps <<<"$s"
  out=$T/out.webm
  # shellcheck disable=SC2206 # the property lists are meant to split
  enc=(gst-launch-1.0 -q filesrc location="$SRC" ! y4mdec ! vp8enc $BASE $props)
  [ -n "$caps" ] && enc+=(! "$caps")
  enc+=(! webmmux ! filesink location="$out")
  e1=$(cpu "${enc[@]}"); e2=$(cpu "${enc[@]}"); e3=$(cpu "${enc[@]}")
  dec=(gst-launch-1.0 -q filesrc location="$out" ! matroskademux ! vp8dec threads=1 ! fakesink)
  d1=$(cpu "${dec[@]}"); d2=$(cpu "${dec[@]}"); d3=$(cpu "${dec[@]}")
  kbps=$(awk -v b="$(stat -c %s "$out")" 'BEGIN { printf "%d", b * 8 / 1000 / 20 }')
  q=$(gst-launch-1.0 -q filesrc location="$out" ! matroskademux ! vp8dec threads=1 ! y4menc ! fdsink fd=1 \
      | "$YUVQ" "$SRC" /dev/stdin)
  set -- $q
  enc_net=$(awk -v e="$(median3 "$e1" "$e2" "$e3")" -v r="$read_cpu" 'BEGIN { printf "%.2f", e - r }')
  echo "| $label | $enc_net | $(median3 "$d1" "$d2" "$d3") | $kbps | $4 | $6 | $8 |"
done
