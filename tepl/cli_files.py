"""``tepl info | plot | import | export | analyze``: run files described, plotted, converted from and to the
vendors' formats (Andor .sif, PicoQuant .ptu) and analysed offline."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_info(args: argparse.Namespace) -> int:
    from tepl.data.runfile import describe

    print(describe(args.file))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from tepl.plotting import plot_run

    out_dir = Path(args.out) if args.out else Path(args.file).with_suffix("")
    for path in plot_run(args.file, out_dir):
        print(path)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    src = Path(args.file)
    suffix = src.suffix.lower()
    if suffix == ".sif":
        from tepl.data.sif import import_sif as importer
    elif suffix == ".ptu":
        from tepl.ptu_import import import_ptu as importer
    else:
        raise ValueError(f"{src}: unknown file type {src.suffix!r}; supported: Andor .sif, PicoQuant .ptu")
    return _convert(importer, src, Path(args.out) if args.out else Path(src.with_suffix(".h5").name), args.overwrite)


def _convert(convert, src: Path, out: Path, overwrite: bool) -> int:
    """``convert(src, out)`` unless ``out`` exists (and ``overwrite`` is not set); prints the output path."""
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    print(convert(src, out, overwrite=overwrite))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tepl.data.ptu_export import export_ptu

    src = Path(args.file)
    if not args.ptu:
        raise ValueError("choose an output format: --ptu (PicoQuant PTU time tags)")
    return _convert(export_ptu, src, Path(args.out) if args.out else src.with_suffix(".ptu"), args.overwrite)


def cmd_analyze(args: argparse.Namespace) -> int:
    from tepl.analyze import analyze_files

    for report in analyze_files(args.files, scheduler=args.scheduler, workers=args.workers,
                                chunk_mb=args.chunk_mb, progress=not args.quiet, n_exp=args.flim_exp,
                                min_counts=args.min_counts):
        print(report, flush=True)
    return 0
