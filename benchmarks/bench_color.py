"""Speed and exactness of reprolib.core.color.rgb_to_lab, printed as markdown. Measures; asserts nothing.

    python benchmarks/bench_color.py [--size 1024] [--repeats 10] [--step 4]
"""
from __future__ import annotations

import argparse

from reprolib.studies import colorbench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="image side (the image is 3 x size x size float32)")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per implementation (median reported)")
    parser.add_argument("--step", type=int, default=4, help="RGB cube grid step for exactness (1: all 256^3)")
    args = parser.parse_args()

    t = colorbench.time_rgb_to_lab(size=args.size, repeats=args.repeats)
    opencv = t.get("opencv_float32")
    print(f"rgb_to_lab on a 3 x {args.size} x {args.size} float32 image, median of {args.repeats} runs "
          f"(scikit-image: at most 3), torch threads: {t['threads']}\n")
    print("| implementation | ms (median) | x OpenCV |")
    print("|---|---:|---:|")
    for name in colorbench.IMPLEMENTATIONS:
        ms = t[name]
        if ms is None:
            print(f"| {name} | not installed | |")
        else:
            print(f"| {name} | {ms:.1f} | {ms / opencv:.2f} |" if opencv else f"| {name} | {ms:.1f} | n/a |")
    print(f"\nOpenCV float32 vs exact: max CIE76 dE = {t['opencv_max_delta_e76']:.3f}")

    e = colorbench.exactness(step=args.step)
    print(f"\nExactness over {e['grid_points']:,} colours of the RGB cube (step {e['step']}):")
    print(f"- max |rgb_to_lab - skimage.rgb2lab|, float64: {e['max_abs_diff_skimage']:.2e}")
    print(f"- same with our float32:                       {e['max_abs_diff_skimage_float32']:.2e}")
    print(f"- max |lab_to_rgb(rgb_to_lab(x)) - x|, float64: {e['roundtrip_max_abs']:.2e}")


if __name__ == "__main__":
    main()
