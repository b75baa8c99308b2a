# Sourced by the video benchmarks: the scratch directory, a release
# `scopectl`, and the 1080p test input they share.
#
# Sets: work (target/bench), frames (120), scopectl (its path), input (the
# y4m, made with ffmpeg's testsrc2 the first time).
work=target/bench
mkdir -p "$work"
frames=120
cargo build --release -q
scopectl=$PWD/target/release/scopectl
input="$work/in1080.y4m"
[ -f "$input" ] || ffmpeg -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 \
  -frames:v "$frames" -pix_fmt yuv420p "$input"
