#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py DIR: the table, results.json and plot data of 'make bench'.

Reads DIR/samples.tsv (written by scripts/bench-guest: one sample per line,
"workload system chunk qd metric unit value run [device]", the value a
number or @raw/FILE.json#JOB for an fio result, the device kind ram when
absent, else nullblk-USECus) and DIR/settings.tsv.  Writes DIR/table.txt
(also to stdout), DIR/results.json (one object per measurement: device,
workload, system, chunk, qd, metric, unit, median, min, max, samples, and
target and verdict where the team set one) and DIR/plot/ (bench.gp and
its data; gnuplot draws DIR/bench.png).

Each device kind is reported on its own, with the same derivations,
tables (titled [kind] unless ram) and targets; with more than one kind,
table 9 and the "by device kind" panels put them side by side.

Statistics: each measurement ran once per run, the systems interleaved
within a run.  A ratio is taken per run (system and reference of the same
run), then its median, min and max over the runs.  The I/O limits are
computed per run from the raw runs of that run:
  first writes:      1 / (1/read_chunk + 1/write_chunk_cow + 1/write_4k) IOPS
  sequential writes: 1 / (1/read_bw + 1/write_bw_cow + 1/write_bw) MB/s
"""

import json
import math
import os
import statistics
import sys
from collections import defaultdict

OUT = sys.argv[1]
RESULTS = []                    # the objects of results.json
LINES = []                      # the table
JSON_CACHE = {}


def read_tsv(name):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip('\n').split('\t') for line in f if line.strip()]


SETTINGS = {row[0]: row[1] for row in read_tsv('settings.tsv')}


def fio_value(ref, metric):
    """The value of METRIC in the fio job @FILE#JOB."""
    path, job = ref[1:].split('#')
    if path not in JSON_CACHE:
        with open(os.path.join(OUT, path)) as f:
            text = f.read()
        # An interrupted fio puts a line before its JSON.
        JSON_CACHE[path] = json.loads(text[text.index('{'):])
    j = next(j for j in JSON_CACHE[path]['jobs'] if j['jobname'] == job)
    if metric == 'read_iops':
        return j['read']['iops']
    if metric == 'write_iops':
        return j['write']['iops']
    if metric == 'read_MBps':
        return j['read']['bw_bytes'] / 1e6
    if metric == 'write_MBps':
        return j['write']['bw_bytes'] / 1e6
    if metric == 'p99_write_us':
        return j['write']['clat_ns']['percentile']['99.000000'] / 1000
    if metric == 'read_bytes':
        return j['read']['io_bytes']
    if metric == 'read_busy_ms':
        # The reads' summed latency (issue to completion): at qd 1 the
        # time spent reading, without fio's start and end.
        return j['read']['lat_ns']['mean'] * j['read']['lat_ns']['N'] / 1e6
    raise ValueError('unknown fio metric ' + metric)


# DEVICES[kind][(workload, system, chunk, qd, metric)] = {run: value}, the
# kind ram for the samples without a 9th column; SAMPLES: those of the
# kind being reported (DEVICE).
DEVICES = defaultdict(lambda: defaultdict(dict))
UNITS = {}
for row in read_tsv('samples.tsv'):
    if len(row) == 8:
        row.append('ram')
    w, system, chunk, qd, metric, unit, value, run, device = row
    if value in ('-', '?', ''):
        continue
    try:
        v = fio_value(value, metric) if value.startswith('@') else float(value)
    except (OSError, KeyError, StopIteration, ValueError) as e:
        print(f'bench-report: {row}: {e!r}', file=sys.stderr)
        continue
    DEVICES[device][(w, system, chunk, qd, metric)][int(run)] = v
    UNITS[metric] = unit


def device_order(d):
    """ram first, then null_blk by completion time."""
    if d == 'ram':
        return (0, 0)
    digits = ''.join(ch for ch in d if ch.isdigit())
    return (1, int(digits) if digits else 0)


DEVICE_KINDS = sorted(DEVICES, key=device_order) or ['ram']
DEVICE = DEVICE_KINDS[0]
SAMPLES = DEVICES[DEVICE]


def keys(workload, system=None, metric=None):
    return sorted({k for k in SAMPLES if k[0] == workload and
                   (system is None or k[1] == system) and
                   (metric is None or k[4] == metric)},
                  key=lambda k: (chunk_order(k[2]), qd_order(k[3])))


def chunk_order(c):
    units = {'k': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    try:
        return int(c[:-1]) * units[c[-1]]
    except (ValueError, KeyError, IndexError):
        return 0


def qd_order(q):
    return int(q) if q.isdigit() else 0


# --- derived samples -----------------------------------------------------

def harmonic(parts):
    """1 / sum(1/x): the rate of doing each part in turn."""
    return 1 / sum(1 / x for x in parts)


def derive_limit(workload, metric, parts, part_metrics, chunk_of=None):
    for k in keys(workload, parts[0], part_metrics[0]):
        _, _, chunk, qd, _ = k
        runs = [SAMPLES.get((workload, p, chunk, qd, m), {})
                for p, m in zip(parts, part_metrics)]
        common = set.intersection(*(set(r) for r in runs))
        lim = {run: harmonic([r[run] for r in runs]) for run in common}
        for c in (chunk_of(chunk) if chunk_of else [chunk]):
            SAMPLES[(workload, 'limit', c, qd, metric)] = lim
    UNITS[metric] = UNITS.get(metric, '')


def derive():
    """The derived samples of the current device kind (SAMPLES)."""
    derive_limit('first-writes', 'write_iops',
                 ['raw:read_origin', 'raw:write_cow', 'raw:write_origin'],
                 ['read_iops', 'write_iops', 'write_iops'])
    seq_chunks = sorted({k[2] for k in keys('seq-writes', 'cbw')},
                        key=chunk_order)
    derive_limit('seq-writes', 'write_MBps',
                 ['raw:read_origin', 'raw:write_cow', 'raw:write_origin'],
                 ['read_MBps', 'write_MBps', 'write_MBps'],
                 chunk_of=lambda c: seq_chunks)

    # scale: the kernel's part of the creation, and cbw's extra kernel memory
    # over a dm-linear device created the same way.
    for k in keys('scale', 'cbw', 'ctr_us'):
        _, _, size, qd, _ = k
        parts = [SAMPLES.get(('scale', 'cbw', size, qd, m), {})
                 for m in ('ctr_us', 'preresume_us', 'resume_us')]
        common = set.intersection(*(set(p) for p in parts))
        SAMPLES[('scale', 'cbw', size, qd, 'kernel_create_ms')] = {
            r: sum(p[r] for p in parts) / 1000 for r in common}
        UNITS['kernel_create_ms'] = 'ms'
    for metric, new in (('kmem_bytes', 'kmem_extra_bytes'),
                        ('create_ms', 'create_extra_ms')):
        for k in keys('scale', 'cbw', metric):
            _, _, size, qd, _ = k
            ref = SAMPLES.get(('scale', 'linear', size, qd, metric), {})
            own = SAMPLES[k]
            SAMPLES[('scale', 'cbw', size, qd, new)] = {
                r: own[r] - ref[r] for r in own if r in ref}
            UNITS[new] = UNITS[metric]


    # overwrites: cbw_map's extra time per write, as a share of a dm-linear
    # write of the same run, and the IOPS ratio that implies.  The extra is
    # the median of the differences of the interleaved write pairs
    # (cbw-pair); results from before the bench recorded it fall back to the
    # difference of the two medians.
    for k in keys('overwrites', 'cbw_map', 'map_us'):
        _, _, c, qd, _ = k
        a = SAMPLES[k]
        b = SAMPLES.get(('overwrites', 'linear_map', c, qd, 'map_us'), {})
        lin = SAMPLES.get(('overwrites', 'linear', c, qd, 'write_iops'), {})
        extra = SAMPLES.get(('overwrites', 'cbw-pair', c, qd, 'map_us')) or \
            {r: a[r] - b[r] for r in a if r in b}
        share = {r: extra[r] * lin[r] / 1e6 for r in extra if r in lin}
        SAMPLES[('overwrites', 'cbw-extra', c, qd, 'us')] = extra
        SAMPLES[('overwrites', 'cbw-extra', c, qd, 'share')] = share
        SAMPLES[('overwrites', 'cbw-implied', c, qd, 'write_iops_ratio')] = {
            r: 1 / (1 + x) for r, x in share.items()}


    # paired runs (snapshot reads, overwrites): the ratio of a run is the
    # geometric mean of the two orders (the device second, then first, in
    # each pair), which cancels what the second I/O of a pair gains from the
    # host's caches when both touch the same memory.
    for w, devs, metric in (('snap-reads-untouched', ('cbw', 'linear'),
                             'read_ratio'),
                            ('snap-reads-half-copied', ('cbw', 'linear'),
                             'read_ratio'),
                            ('overwrites', ('cbw', 'linear-b'), 'write_ratio'),
                            ('track-overwrites', ('trk', 'linear-b'),
                             'write_ratio'),
                            ('track-first-writes', ('trk',), 'write_ratio')):
        for dev in devs:
            for k in keys(w, dev + '-second', metric):
                _, _, c, qd, _ = k
                a = SAMPLES[k]
                b = SAMPLES.get((w, dev + '-first', c, qd, metric), {})
                SAMPLES[(w, dev + '-paired', c, qd, metric)] = {
                    r: math.sqrt(a[r] * b[r]) for r in a if r in b}


# --- statistics and verdicts ---------------------------------------------

def stats(samples):
    vals = [samples[r] for r in sorted(samples)]
    if not vals:
        return None
    return {'median': statistics.median(vals), 'min': min(vals),
            'max': max(vals), 'samples': vals}


def verdict(value, target):
    if target is None or value is None:
        return None
    op, bound = target
    ok = {'>=': value >= bound, '>': value > bound,
          '<=': value <= bound, '<': value < bound,
          '==': value == bound}[op]
    return 'ok' if ok else 'MISS'


def add_result(workload, system, chunk, qd, metric, unit, samples,
               target=None):
    s = stats(samples)
    if s is None:
        return None
    obj = {'device': DEVICE, 'workload': workload, 'system': system,
           'chunk': chunk, 'qd': int(qd) if str(qd).isdigit() else None,
           'metric': metric, 'unit': unit, **s}
    if target:
        obj['target'] = f'{target[0]} {target[1]:g}'
        obj['verdict'] = verdict(s['median'], target)
    RESULTS.append(obj)
    return obj


def measure(workload, system, chunk, qd, metric):
    """The result object of a measurement (added to results.json once)."""
    samples = SAMPLES.get((workload, system, chunk, qd, metric))
    if not samples:
        return None
    for r in RESULTS:
        if (r['device'], r['workload'], r['system'], r['chunk'],
                r['metric']) == (DEVICE, workload, system, chunk, metric) and \
                r['qd'] == (int(qd) if qd.isdigit() else None):
            return r
    return add_result(workload, system, chunk, qd, metric, UNITS[metric],
                      samples)


def ratio(workload, system, ref, chunk, qd, metric, target=None):
    """SYSTEM / REF per run: median, min, max over the runs."""
    a = SAMPLES.get((workload, system, chunk, qd, metric), {})
    b = SAMPLES.get((workload, ref, chunk, qd, metric), {})
    per_run = {r: a[r] / b[r] for r in a if r in b and b[r]}
    return add_result(workload, system, chunk, qd,
                      f'{metric}_ratio_vs_{ref}', 'x', per_run, target)


# --- formatting -----------------------------------------------------------

def num(x):
    if x is None:
        return '-'
    if abs(x) >= 100:
        return f'{x:.0f}'
    if abs(x) >= 10:
        return f'{x:.1f}'
    return f'{x:.2f}'


def absval(obj):
    """A median with its spread: 1234 ±3% (half the min-max range)."""
    if obj is None:
        return '-'
    m = obj['median']
    if len(obj['samples']) < 2 or not m:
        return num(m)
    spread = (obj['max'] - obj['min']) / 2 / abs(m) * 100
    return f'{num(m)} ±{spread:.0f}%'


def ratioval(obj):
    if obj is None:
        return '-'
    s = f"{obj['median']:.2f}"
    if obj.get('verdict'):
        s += ' ' + obj['verdict']
    return s


def count(obj):
    """A whole number's median (chunks, bytes)."""
    return '-' if obj is None else f"{obj['median']:.0f}"


def fine(obj):
    """A small ratio's median, three decimals: 0.012."""
    return '-' if obj is None else f"{obj['median']:.3f}"


def spread(obj):
    """A ratio's range over the runs: 0.91-1.08."""
    if obj is None:
        return '-'
    return f"{obj['min']:.2f}-{obj['max']:.2f}"


def table(title, header, rows, notes=()):
    if not rows:
        return
    if DEVICE not in (None, 'ram'):
        # "1. First writes..." -> "1. [nullblk-20us] First writes..."
        head, rest = title.split(' ', 1)
        title = f'{head} [{DEVICE}] {rest}'
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    LINES.append('')
    LINES.append(title)
    for r in [header] + rows:
        LINES.append('  ' + '  '.join(str(x).ljust(w)
                                      for x, w in zip(r, widths)).rstrip())
    for n in notes:
        LINES.append('  ' + n)


# --- plot ---------------------------------------------------------------

PANELS = []


def panel(name, title, ylabel, series, rows, hline=None, always=False):
    """A histogram panel: ROWS of (label, [result object per series]).
    The workloads' own panels are drawn for the first device kind only
    (ram if measured); the others are in the side-by-side panels
    (ALWAYS)."""
    if DEVICE not in (None, DEVICE_KINDS[0]) and not always:
        return
    if DEVICE not in (None, 'ram') and not always:
        title = f'{title} [{DEVICE}]'
    # A series with no data at all (an older results folder) is left out.
    keep = [i for i in range(len(series))
            if any(objs[i] is not None for _, objs in rows)]
    series = [series[i] for i in keep]
    rows = [(label, [objs[i] for i in keep]) for label, objs in rows]
    if not rows or not series:
        return
    os.makedirs(os.path.join(OUT, 'plot'), exist_ok=True)
    with open(os.path.join(OUT, 'plot', name + '.dat'), 'w') as f:
        f.write('# label ' + ' '.join(f'{s} min max' for s in series) + '\n')
        for label, objs in rows:
            cells = []
            for o in objs:
                if o is None:
                    cells += ['?', '?', '?']
                else:
                    cells += [f"{o[k]:.6g}" for k in ('median', 'min', 'max')]
            f.write(f'"{label}" ' + ' '.join(cells) + '\n')
    PANELS.append((name, title, ylabel, series, hline))


def write_gnuplot():
    if not PANELS:
        return
    cols = 4 if len(PANELS) > 6 else 3 if len(PANELS) > 4 else 2
    nrows = (len(PANELS) + cols - 1) // cols
    gp = [
        f"set terminal pngcairo size {620 * cols},{480 * nrows} font ',10'",
        "set output '../bench.png'",
        f"set multiplot layout {nrows},{cols} title \"dm-cbw bench: "
        f"Linux {SETTINGS.get('kernel', '?')}, {SETTINGS.get('runs', '?')} "
        f"run(s), QEMU/TCG guest, {devices_words(gnuplot=True)}; bars: "
        "median, whiskers: "
        "min and max; dashed: the target\"",
        "set style data histograms",
        "set style histogram errorbars gap 1 lw 1",
        "set style fill solid 0.7 border -1",
        "set datafile missing '?'",
        "set grid ytics",
        "set key top left opaque",
        "set xtics rotate by -30 nomirror",
        "set yrange [0:*]",
    ]
    for name, title, ylabel, series, hline in PANELS:
        gp.append(f'set title "{title}"')
        gp.append(f'set ylabel "{ylabel}"')
        if hline is not None:
            gp.append(f"set arrow 1 from graph 0, first {hline} to graph 1, "
                      f"first {hline} nohead dt 2 lw 2 lc rgb 'red' front")
        parts = []
        for i, s in enumerate(series):
            src = f"'{name}.dat'" if i == 0 else "''"
            c = 2 + 3 * i
            xt = ':xtic(1)' if i == 0 else ''
            parts.append(f"{src} using {c}:{c + 1}:{c + 2}{xt} title '{s}'")
        gp.append('plot ' + ', \\\n     '.join(parts))
        gp.append('unset arrow 1')
    gp.append('unset multiplot')
    with open(os.path.join(OUT, 'plot', 'bench.gp'), 'w') as f:
        f.write('\n'.join(gp) + '\n')


# --- the workloads --------------------------------------------------------

def first_writes():
    w = 'first-writes'
    rows, plot_rows = [], []
    for k in keys(w, 'limit', 'write_iops'):
        c, qd = k[2], k[3]
        m = {s: measure(w, s, c, qd, 'write_iops')
             for s in ('limit', 'cbw', 'snap-N', 'snap-P', 'linear')}
        vs_lim = ratio(w, 'cbw', 'limit', c, qd, 'write_iops', ('>=', 0.9))
        vs_n = ratio(w, 'cbw', 'snap-N', c, qd, 'write_iops', ('>', 1.0))
        vs_p = ratio(w, 'cbw', 'snap-P', c, qd, 'write_iops', ('>', 1.0))
        others = [ratio(w, s, 'limit', c, qd, 'write_iops')
                  for s in ('snap-N', 'snap-P')]
        ratio(w, 'linear', 'limit', c, qd, 'write_iops')
        rows.append([c, qd] + [absval(m[s]) for s in m] +
                    [ratioval(vs_lim), ratioval(vs_n), ratioval(vs_p)])
        plot_rows.append((f'{c} qd{qd}', [vs_lim] + others))
    table('1. First writes: 4 KiB random writes, each on a chunk not yet '
          'copied, to a fresh snapshot (IOPS; each system and qd on a '
          'snapshot of its own, right after the limit runs of that qd)',
          ['chunk', 'qd', 'limit', 'cbw', 'snap-N', 'snap-P', 'linear',
           'cbw/limit', 'cbw/snap-N', 'cbw/snap-P'], rows,
          ['targets: cbw/limit >= 0.90; cbw ahead of snap-N and snap-P '
           '(> 1.00)',
           'limit = 1/(1/chunk reads of the origin + 1/chunk writes to the '
           'COW + 1/4 KiB writes to the origin), raw ' +
           ('RAM disks' if DEVICE == 'ram' else 'null_blk devices') +
           ', same qd'])
    # dm-linear (no copies, some times the limit) is in the table only.
    panel(w, 'first writes: IOPS / I/O limit', 'ratio to the limit',
          ['cbw', 'snap-N', 'snap-P'], plot_rows, 0.9)


def overwrites():
    w = 'overwrites'
    target = ('>=', 0.97)
    rows, rows_c, plot_rows = [], [], []
    cells = {k[2:4] for k in keys(w, 'cbw', 'write_iops') +
             keys(w, 'cbw-paired', 'write_ratio')}
    for c, qd in sorted(cells, key=lambda x: (chunk_order(x[0]),
                                              qd_order(x[1]))):
        paired = SAMPLES.get((w, 'cbw-paired', c, qd, 'write_ratio'))
        cbw = measure(w, 'cbw', c, qd, 'write_iops')
        lin = measure(w, 'linear', c, qd, 'write_iops')
        lin_b = measure(w, 'linear-b', c, qd, 'write_iops')
        # Results from before the paired runs: the target here.
        r = ratio(w, 'cbw', 'linear', c, qd, 'write_iops',
                  None if paired else target)
        aa = ratio(w, 'linear-b', 'linear', c, qd, 'write_iops')
        if cbw:
            rows.append([c, qd, absval(lin), absval(cbw), absval(lin_b),
                         ratioval(r), ratioval(aa), spread(aa)])
        pc = paired and add_result(w, 'cbw-paired', c, qd, 'write_ratio',
                                   'x', paired, target)
        pa = measure(w, 'linear-b-paired', c, qd, 'write_ratio')
        if pc:
            orders = [measure(w, s, c, qd, 'write_ratio')
                      for s in ('cbw-second', 'cbw-first')]
            rows_c.append([c, qd] + [ratioval(x) for x in orders] +
                          [ratioval(pc), spread(pc), ratioval(pa),
                           spread(pa)])
        plot_rows.append((f'{c} qd{qd}', [pc, pa, r, aa]))
    table('2. Overwrites: 4 KiB random writes on chunks already copied (IOPS)',
          ['chunk', 'qd', 'linear', 'cbw', 'linear-b', 'cbw/linear',
           'linear-b/linear', 'its min-max'], rows,
          [('each device in a run of its own, the three back to back; '
            'the target is judged in 2c' if rows_c else
            'target: cbw/linear >= 0.97'),
           'linear-b: a second dm-linear device over the origin, the A/A '
           'control: linear-b/linear is what the host\'s noise alone gives'])
    panel(w, 'overwrites: IOPS / dm-linear', 'ratio to dm-linear',
          ['cbw (paired)', 'linear-b (paired A/A)', 'cbw',
           'linear-b (A/A control)'], plot_rows, 0.97)
    rows = []
    for k in keys(w, 'cbw_map', 'map_us'):
        c, qd = k[2], k[3]
        cbw = measure(w, 'cbw_map', c, qd, 'map_us')
        lin = measure(w, 'linear_map', c, qd, 'map_us')
        extra = SAMPLES.get((w, 'cbw-extra', c, qd, 'us'), {})
        share = SAMPLES.get((w, 'cbw-extra', c, qd, 'share'), {})
        implied = SAMPLES.get((w, 'cbw-implied', c, qd, 'write_iops_ratio'),
                              {})
        rows.append([c, qd, absval(cbw), absval(lin),
                     absval(add_result(w, 'cbw-extra', c, qd, 'us', 'us',
                                       extra)),
                     absval(add_result(w, 'cbw-extra', c, qd, 'share', 'x',
                                       share)),
                     ratioval(add_result(w, 'cbw-implied', c, qd,
                                         'write_iops_ratio', 'x', implied))])
    table('2b. Overwrites: the map functions\' own time per write in the last '
          'run (us, median; cbw and dm-linear writes interleaved one by one, '
          'function_graph on the two)',
          ['chunk', 'qd', 'cbw_map', 'linear_map', 'extra', 'extra/write',
           'implied cbw/linear'], rows,
          ['extra: what cbw adds to a write needing no copy, the median '
           'over the write pairs (a cbw write, the dm-linear write after '
           'it) of cbw_map - linear_map; write: 1/IOPS of dm-linear in '
           'the same run',
           'implied cbw/linear = 1 / (1 + extra/write): the IOPS ratio '
           'without the host\'s noise (target 0.97 on the IOPS ratio)'])
    table('2c. Overwrites, paired: cbw and dm-linear written in turn, I/O by '
          'I/O (IOPS / dm-linear\'s, from the submission times)',
          ['chunk', 'qd', 'cbw second', 'cbw first', 'cbw/linear',
           'its min-max', 'linear-b/linear', 'its min-max'], rows_c,
          ['target: cbw/linear >= 0.97',
           'second, first: cbw\'s writes second (first) in each pair; '
           'cbw/linear: per run, the geometric mean of the two orders; '
           'linear-b/linear: the same for a second dm-linear device, the '
           'A/A control',
           'brd completes a write inside io_submit(): fio\'s submission '
           'time is the whole write, logged in issue order at any qd'])


def seq_writes():
    w = 'seq-writes'
    rows, plot_rows = [], []
    for k in keys(w, 'limit', 'write_MBps'):
        c, qd = k[2], k[3]
        m = {s: measure(w, s, c, qd, 'write_MBps')
             for s in ('limit', 'cbw', 'snap-N', 'snap-P')}
        vs_lim = ratio(w, 'cbw', 'limit', c, qd, 'write_MBps', ('>=', 0.9))
        vs_n = ratio(w, 'cbw', 'snap-N', c, qd, 'write_MBps', ('>=', 1.3))
        vs_p = ratio(w, 'cbw', 'snap-P', c, qd, 'write_MBps', ('>=', 1.3))
        others = [ratio(w, s, 'limit', c, qd, 'write_MBps')
                  for s in ('snap-N', 'snap-P')]
        rows.append([c, qd] + [absval(m[s]) for s in m] +
                    [ratioval(vs_lim), ratioval(vs_n), ratioval(vs_p)])
        plot_rows.append((f'{c} qd{qd}', [vs_lim] + others))
    table(f'3. Sequential writes: 1 MiB writes to a fresh snapshot, '
          f'{SETTINGS.get("seq_mib", "?")} MiB per qd, each qd on a snapshot of '
          'its own (MB/s)',
          ['chunk', 'qd', 'limit', 'cbw', 'snap-N', 'snap-P', 'cbw/limit',
           'cbw/snap-N', 'cbw/snap-P'], rows,
          ['targets: cbw/limit >= 0.90; cbw/snap-N and cbw/snap-P >= 1.30',
           'limit = 1/(1/read of the origin + 1/write to the COW + 1/write '
           'to the origin), raw 1 MiB sequential bandwidths, same qd'])
    panel(w, 'sequential writes: MB/s / I/O limit', 'ratio to the limit',
          ['cbw', 'snap-N', 'snap-P'], plot_rows, 0.9)


def snap_reads():
    rows, rows_b, plot_rows = [], [], []
    for state in ('untouched', 'half-copied'):
        w = 'snap-reads-' + state
        target = ('>=', 0.95) if state == 'untouched' else None
        cells = {k[2:4] for k in keys(w, 'raw', 'read_MBps') +
                 keys(w, 'cbw-paired', 'read_ratio')}
        for c, qd in sorted(cells, key=lambda x: (chunk_order(x[0]),
                                                  qd_order(x[1]))):
            cbw = SAMPLES.get((w, 'cbw-paired', c, qd, 'read_ratio'))
            m = {s: measure(w, s, c, qd, 'read_MBps')
                 for s in ('raw', 'cbw', 'snap-N', 'snap-P')}
            # Results from before the paired runs: the target here.
            rs = [ratio(w, s, 'raw', c, qd, 'read_MBps',
                        target if s == 'cbw' and not cbw else None)
                  for s in ('cbw', 'snap-N', 'snap-P')]
            rows.append([state, c] + [absval(m[s]) for s in m] +
                        [ratioval(r) for r in rs])
            paired = [measure(w, s, c, qd, 'read_ratio')
                      for s in ('cbw-second', 'cbw-first')]
            cbw = cbw and add_result(w, 'cbw-paired', c, qd, 'read_ratio',
                                     'x', cbw, target)
            lin = measure(w, 'linear-paired', c, qd, 'read_ratio')
            vs_lin = ratio(w, 'cbw-paired', 'linear-paired', c, qd,
                           'read_ratio') if lin else None
            if cbw:
                rows_b.append([state, c] + [ratioval(x) for x in paired] +
                              [ratioval(cbw), spread(cbw), ratioval(lin),
                               ratioval(vs_lin)])
            plot_rows.append((f'{c} {state}', [cbw, lin] + rs))
    table('4. Snapshot reads: 1 MiB sequential direct reads of the snapshot '
          'device (MB/s)',
          ['state', 'chunk', 'raw origin', 'cbw', 'snap-N', 'snap-P',
           'cbw/raw', 'snap-N/raw', 'snap-P/raw'], rows,
          ['each device in a run of its own, after the origin\'s: the '
           'host\'s drift moves these ratios by 10-20%' +
           ('; the target is judged in 4b' if rows_b else ''),
           'half-copied: the first half of the read region copied before'])
    table('4b. Snapshot reads, paired: the snapshot device and the origin '
          'read in turn, I/O by I/O (read bandwidth / the origin\'s)',
          ['state', 'chunk', 'cbw second', 'cbw first', 'cbw/raw',
           'its min-max', 'linear/raw', 'cbw/linear'], rows_b,
          ['target: untouched cbw/raw >= 0.95',
           'second, first: the snapshot device\'s reads second (first) in '
           'each pair; a read of the memory the read before it touched is '
           'faster (the host\'s caches), so the two orders differ',
           'cbw/raw: per run, the geometric mean of the two orders; '
           'linear/raw: the same for a dm-linear device over the origin, '
           'what any device-mapper target costs here'])
    panel('snap-reads', 'snapshot reads: MB/s / raw origin reads',
          'ratio to the raw origin',
          ['cbw (paired)', 'dm-linear (paired)', 'cbw', 'snap-N', 'snap-P'],
          plot_rows, 0.95)


def backup():
    w = 'backup'
    rows, plot_rows = [], []
    systems = ('cbw', 'cbw-file', 'cbw-discard', 'cbw-dd', 'snap-N',
               'snap-P', 'raw')
    for k in keys(w, 'snap-N', 'p99_write_us'):
        c, qd = k[2], k[3]
        for s in systems:
            iops = measure(w, s, c, qd, 'write_iops')
            p99 = measure(w, s, c, qd, 'p99_write_us')
            bw = measure(w, s, c, qd, 'backup_MBps')
            if p99 is None:
                continue
            vs = []
            for ref in ('snap-N', 'snap-P'):
                t = ('<=', 0.5) if s.startswith('cbw') else None
                vs.append(ratio(w, s, ref, c, qd, 'p99_write_us', t)
                          if s != ref else None)
            # The backup's own speed: cbwctl backup against dd reading
            # the same snapshot device, with --discard-behind against
            # the same backup without it (into the same kind of file).
            ref, t = {'cbw': ('cbw-dd', ('>=', 0.9)),
                      'cbw-discard': ('cbw-file', ('>=', 0.8))}.get(
                          s, (None, None))
            speed = ratio(w, s, ref, c, qd, 'backup_MBps', t) if ref else None
            # The floor: the same writer and reader on the origin itself.
            floor = (ratio(w, s, 'raw', c, qd, 'p99_write_us')
                     if s != 'raw' else None)
            rows.append([c, s, absval(iops), absval(p99), absval(bw),
                         (f'{ratioval(speed)} (/{ref})' if speed else '-')] +
                        [ratioval(v) for v in vs] + [ratioval(floor)])
        plot_rows.append((f'{c} qd{qd}',
                          [ratio(w, s, 'snap-N', c, qd, 'p99_write_us')
                           for s in ('cbw', 'cbw-discard', 'cbw-dd',
                                     'snap-P')]))
    table(f'5. Backup under load: 4 KiB random writes at qd '
          f'{SETTINGS.get("backup_qd", "?")} while the whole snapshot is read',
          ['chunk', 'system', 'write IOPS', 'p99 write us', 'backup MB/s',
           'backup speed', 'p99/snap-N', 'p99/snap-P', 'p99/raw'], rows,
          ['targets: cbw p99 <= 0.5 x dm-snapshot p99 (both N and P); '
           'backup speed: cbw >= 0.90 x cbw-dd (dd reading the same '
           'snapshot device), cbw-discard >= 0.80 x cbw-file (issue 25)',
           'cbw: cbwctl backup --to - >/dev/null; cbw-file: cbwctl '
           'backup into an image file (tmpfs); cbw-discard: the same '
           'with --discard-behind; cbw-dd, '
           'snap-N, snap-P: dd bs=4M iflag=direct of=/dev/null',
           'raw: fio writes the origin itself while the same dd reads it '
           '(no snapshot, no copy): the floor that the devices and the '
           'guest\'s CPUs set; p99/raw: a system\'s p99 over it',
           'fio runs from just before the backup starts until it ends; '
           'backup MB/s: the whole snapshot over the backup\'s wall time'])
    panel(w, 'backup under load: p99 write latency / dm-snapshot N',
          'ratio to snap-N (lower is better)',
          ['cbw', 'cbw-discard', 'cbw-dd', 'snap-P'], plot_rows, 0.5)
    backup_waits()


def backup_waits():
    """Table 5b: where cbw's guest writes waited during the backups, from
    cbw's tracepoints (bench-guest's cbw_trace_record())."""
    w = 'backup'
    rows, lost = [], 0
    for k in keys(w, 'cbw', 'waits'):
        c, qd = k[2], k[3]
        for s in ('cbw', 'cbw-file', 'cbw-discard', 'cbw-dd'):
            m = {x: measure(w, s, c, qd, x)
                 for x in ('waits', 'wait_p50_us', 'wait_p99_us', 'copies',
                           'copy_p50_us', 'copy_p99_us', 'p99_write_us',
                           'trace_lost')}
            if m['waits'] is None:
                continue
            if m['trace_lost']:
                lost = max(lost, m['trace_lost']['max'])
            rows.append([c, s, count(m['waits']), absval(m['wait_p50_us']),
                         absval(m['wait_p99_us']), count(m['copies']),
                         absval(m['copy_p50_us']), absval(m['copy_p99_us']),
                         absval(m['p99_write_us'])])
    notes = ['from cbw\'s tracepoints during the backup: waits, the guest '
             'writes that waited on a copy (or a snapshot read or discard) of '
             'their chunk (cbw_write_wait: from the write\'s arrival to its '
             'release to the origin); copies, the copies made (cbw_copy_end: '
             'from the copy\'s start, its chunk\'s read and COW write, to '
             'the publication of its slot)',
             'a write that waited then writes the origin: its latency is '
             'about its wait plus that write; the p99 write column is '
             'table 5\'s (fio, the whole run)']
    if lost:
        notes.append(f'the trace buffer lost up to {lost:.0f} events in a '
                     f'run: the counts there are short')
    table('5b. Where cbw\'s writes waited during the backup (medians over '
          'the runs)',
          ['chunk', 'system', 'waits', 'wait p50 us', 'wait p99 us',
           'copies', 'copy p50 us', 'copy p99 us', 'p99 write us'],
          rows, notes)


TIB = 1 << 40


def scale():
    w = 'scale'
    rows, plot_rows = [], []
    for k in keys(w, 'cbw', 'tracking_bytes'):
        size, qd = k[2], k[3]
        if chunk_order(size) == 0:
            continue            # the copies rows
        tib = chunk_order(size) / TIB
        big = tib >= 1
        wall = measure(w, 'cbw', size, qd, 'create_ms')
        wall_lin = measure(w, 'linear', size, qd, 'create_ms')
        extra = add_result(w, 'cbw', size, qd, 'create_extra_ms', 'ms',
                           SAMPLES.get((w, 'cbw', size, qd,
                                        'create_extra_ms'), {}))
        kern = add_result(w, 'cbw', size, qd, 'kernel_create_ms', 'ms',
                          SAMPLES.get((w, 'cbw', size, qd,
                                       'kernel_create_ms'), {}),
                          ('<', 100) if size == '64T' else None)
        track = measure(w, 'cbw', size, qd, 'tracking_bytes')
        kmem = measure(w, 'cbw', size, qd, 'kmem_bytes')
        kmem_lin = measure(w, 'linear', size, qd, 'kmem_bytes')
        per_tib = {}
        for metric in ('tracking_bytes', 'kmem_extra_bytes'):
            s = SAMPLES.get((w, 'cbw', size, qd, metric), {})
            # kmem moves by a few pages from run to run: judged only
            # where that is small per TiB.
            judged = big if metric == 'tracking_bytes' else size == '64T'
            per_tib[metric] = add_result(
                w, 'cbw', size, qd, metric + '_per_TiB', 'B/TiB',
                {r: v / tib for r, v in s.items()},
                ('<=', 64 * 1024) if judged else None)
        rows.append([size, absval(wall), absval(wall_lin), absval(extra),
                     ratioval(kern), absval(track), absval(kmem),
                     absval(kmem_lin),
                     ratioval(per_tib['tracking_bytes']),
                     ratioval(per_tib['kmem_extra_bytes'])])
        plot_rows.append((f'{size} origin', [kern]))
    table('6a. Scale: creating a snapshot of a dm-zero origin (4 KiB chunks, '
          'dm-zero COW as large)',
          ['origin', 'create ms', 'linear ms', 'cbw-linear ms',
           'kernel ms', 'tracking B', 'kmem B', 'linear kmem B',
           'tracking/TiB', 'kmem-linear/TiB'], rows,
          ['create ms: wall time of "dmsetup create" (a process start over '
           '9p under TCG included); linear: the same for a dm-linear table',
           'kernel ms: cbw_ctr + cbw_preresume + cbw_resume by ftrace '
           '(function_graph)',
           'kmem: SUnreclaim + VmallocUsed + Percpu of /proc/meminfo + the '
           'radix_tree_node slab, before and after the create',
           'targets: 64T created < 100 ms (kernel ms; the wall times are '
           'mostly process starts, noisy under TCG); <= 65536 B per TiB '
           '(tracking: 1T and 64T; kmem, which moves by a few pages from '
           'run to run: 64T)'])
    rows2, plot2 = [], []
    for pattern in ('random', 'sequential'):
        copied = measure(w, 'cbw', pattern, '-', 'copied')
        if copied is None:
            continue
        vals = [copied]
        for metric in ('tracking_per_copy', 'kmem_per_copy', 'slab_per_copy'):
            t = ('<=', 16) if metric != 'slab_per_copy' else None
            vals.append(add_result(w, 'cbw', pattern, '-', metric, 'B',
                                   SAMPLES.get((w, 'cbw', pattern, '-',
                                                metric), {}), t))
        rows2.append([pattern, absval(vals[0])] +
                     [ratioval(v) for v in vals[1:]])
        plot2.append((pattern, vals[1:]))
    table('6b. Scale: memory per copied chunk (64 TiB dm-zero origin and COW, '
          '4 KiB chunks)',
          ['pattern', 'copied', 'tracking B/copy', 'kmem B/copy',
           'xarray+bitmap slabs B/copy'], rows2,
          ['random: 4 KiB writes on distinct chunks in random order, over a '
           'region of twice as many chunks (half of them copied)',
           'sequential: 1 MiB writes; kmem: as in 6a, the delta from '
           'before the create; slabs: radix_tree_node + dm_cbw_bitmap_* '
           'caches (num_objs x objsize); the chunk map\'s 4 KiB leaves are '
           'kmalloc pages, counted in kmem and tracking',
           'target: <= 16 B per copied chunk'])
    panel('scale-create', 'snapshot creation: kernel time (4 KiB chunks)',
          'ms', ['cbw ctr + resume'], plot_rows, 100)
    panel('scale-copies', 'memory per copied chunk (64 TiB origin)',
          'bytes per copied chunk',
          ['tracking', 'kmem', 'xarray+bitmap slabs'], plot2, 16)


def qemu():
    w = 'qemu'
    rows, plot_rows = [], []
    for k in keys(w, 'cbw', 'write_iops'):
        c, qd = k[2], k[3]
        m = {s: measure(w, s, c, qd, 'write_iops')
             for s in ('cbw', 'qemu-cbw', 'qemu-plain')}
        vs_q = ratio(w, 'cbw', 'qemu-cbw', c, qd, 'write_iops')
        q_plain = ratio(w, 'qemu-cbw', 'qemu-plain', c, qd, 'write_iops')
        rows.append([c, qd] + [absval(m[s]) for s in m] +
                    [ratioval(vs_q), ratioval(q_plain)])
        plot_rows.append((f'{c} qd{qd}', [vs_q, q_plain]))
    table('7. QEMU copy-before-write: the first writes\' log on cbw and on '
          'qemu-storage-daemon\'s filter over NBD (IOPS; each on a fresh '
          'snapshot)',
          ['chunk', 'qd', 'cbw', 'qemu-cbw', 'qemu-plain', 'cbw/qemu-cbw',
           'qemu-cbw/qemu-plain'], rows,
          ['qemu-cbw: copy-before-write filter (origin its file, COW device '
           'its target, 64 KiB clusters) exported over NBD to /dev/nbd0',
           'qemu-plain: the same export without the filter, what the NBD '
           'path costs alone; no target (optional workload)'])
    panel(w, 'first writes: cbw / QEMU filter, QEMU filter / its NBD path',
          'ratio', ['cbw/qemu-cbw', 'qemu-cbw/qemu-plain'], plot_rows, 1.0)


def track():
    target = ('>=', 0.97)
    w = 'track-overwrites'
    rows, plot_ow = [], []
    for k in keys(w, 'trk-paired', 'write_ratio'):
        c, qd = k[2], k[3]
        pc = add_result(w, 'trk-paired', c, qd, 'write_ratio', 'x',
                        SAMPLES[k], target)
        pa = measure(w, 'linear-b-paired', c, qd, 'write_ratio')
        orders = [measure(w, s, c, qd, 'write_ratio')
                  for s in ('trk-second', 'trk-first')]
        fw = measure('track-first-writes', 'trk-paired', c, qd,
                     'write_ratio')
        rows.append([c, qd] + [ratioval(x) for x in orders] +
                    [ratioval(pc), spread(pc), ratioval(pa), spread(pa)])
        plot_ow.append((f'{c} qd{qd}', [pc, pa, fw]))
    changed = [measure(w, 'trk', k[2], k[3], 'changed')
               for k in keys(w, 'trk', 'changed')]
    table('8. Change tracking, overwrites, paired: a track-only table (no '
          'snapshot) and dm-linear written in turn, I/O by I/O, on chunks '
          'all marked before (IOPS / dm-linear\'s, from the submission '
          'times)',
          ['chunk', 'qd', 'trk second', 'trk first', 'trk/linear',
           'its min-max', 'linear-b/linear', 'its min-max'], rows,
          ['target: trk/linear >= 0.97 (issue 24: overwrites with tracking '
           'on, paired, as in table 2c)',
           'trk: \'cbw ORIGIN - CHUNK 1 track\' whose region (half the '
           'origin) was written once: every write takes the fast path of '
           'cbw_track_mark() (one lock-free bitmap search)' +
           (' (changed chunks after the overwrites: ' +
            ', '.join(num(x['median']) for x in changed if x) + ')'
            if changed else ''),
           'second, first, linear-b/linear: as in table 2c'])
    rows = []
    for k in keys(w, 'cbw_map', 'map_us'):
        c, qd = k[2], k[3]
        rows.append([c, qd] + [absval(measure(w, f, c, qd, 'map_us'))
                               for f in ('cbw_map', 'linear_map',
                                         'cbw-pair')])
    table('8b. Change tracking, overwrites: the map functions\' own time '
          'per write in the last run (us, median; track-only and dm-linear '
          'writes interleaved one by one, function_graph on the two)',
          ['chunk', 'qd', 'cbw_map', 'linear_map', 'extra'], rows,
          ['extra: the median over the write pairs of cbw_map - '
           'linear_map, as in table 2b (cbw_map includes '
           'cbw_track_mark())'])
    w = 'track-first-writes'
    rows = []
    for k in keys(w, 'trk-paired', 'write_ratio'):
        c, qd = k[2], k[3]
        pc = measure(w, 'trk-paired', c, qd, 'write_ratio')
        orders = [measure(w, s, c, qd, 'write_ratio')
                  for s in ('trk-second', 'trk-first')]
        rows.append([c, qd] + [ratioval(x) for x in orders] +
                    [ratioval(pc), spread(pc)])
    table('8c. Change tracking, first writes, paired: 4 KiB writes each on '
          'a chunk not yet marked (a new history for each qd and order) '
          'and dm-linear writes at the same offsets, in turn, I/O by I/O '
          '(IOPS / dm-linear\'s, from the submission times)',
          ['chunk', 'qd', 'trk second', 'trk first', 'trk/linear',
           'its min-max'], rows,
          [f'{SETTINGS.get("first_writes", "?")} writes at most per run '
           f'after {SETTINGS.get("warm_writes", "?")} unmeasured pairs; '
           'informational, no target: a first write sets its chunk\'s bit '
           'under the history\'s lock (nodes from a reserve that a worker '
           'tops up)'])
    rows = []
    for k in keys(w, 'cbw_map', 'map_us'):
        c, qd = k[2], k[3]
        rows.append([c, qd] + [absval(measure(w, f, c, qd, 'map_us'))
                               for f in ('cbw_map', 'linear_map',
                                         'refill_work')] +
                    [ratioval(measure(w, 'refill_work', c, qd,
                                      'calls_per_write'))])
    table('8d. Change tracking, first writes: the map functions\' own time '
          'per write and the tracking worker\'s in the last run (us, '
          'median; the pairs of 8c at qd 1, dm-linear first, '
          'function_graph on cbw_map, linear_map and refill_work)',
          ['chunk', 'qd', 'cbw_map', 'linear_map', 'refill_work',
           'refill_work runs/write'], rows,
          ['refill_work: the history\'s worker that tops the changed set\'s '
           'node reserve up, queued by cbw_track_mark() after it set a bit; '
           'its time is on a kworker, the wake-up and the switch to it are '
           'on the writer'])
    w = 'track-backup'
    rows, plot_rows = [], []
    cells = sorted({k[2:4] for k in keys(w, 'full', 'read_bytes')},
                   key=lambda x: chunk_order(x[0]))
    for c, qd in cells:
        cb = chunk_order(c)
        for sys in ('full', 'incr-1', 'incr-10'):
            ch = SAMPLES.get((w, sys, c, qd, 'changed'), {})
            rb = SAMPLES.get((w, sys, c, qd, 'read_bytes'), {})
            if not rb:
                continue
            SAMPLES[(w, sys, c, qd, 'bytes_vs_changed')] = {
                r: rb[r] / (ch[r] * cb) for r in rb if ch.get(r)}
            UNITS['bytes_vs_changed'] = 'x'
            eq = add_result(w, sys, c, qd, 'bytes_vs_changed', 'x',
                            SAMPLES[(w, sys, c, qd, 'bytes_vs_changed')],
                            ('==', 1))
            vs = [ratio(w, sys, 'full', c, qd, m) if sys != 'full' else None
                  for m in ('read_bytes', 'read_busy_ms')]
            label = 'full' if sys == 'full' else sys[5:] + ' %'
            rows.append([c, label] +
                        [count(measure(w, sys, c, qd, m))
                         for m in ('changed', 'map_chunks', 'read_bytes')] +
                        [ratioval(eq),
                         absval(measure(w, sys, c, qd, 'read_busy_ms'))] +
                        [fine(v) for v in vs])
            if sys != 'full':
                plot_rows.append((f'{c} {label}', vs))
    table('8e. Change tracking, backups: the full first backup of a history '
          '(every chunk changed) and the incremental ones after 4 KiB '
          'writes on 1 % and 10 % of the chunks (direct reads of the track '
          'snapshot\'s map runs, at most 4 MiB each, qd 1)',
          ['chunk', 'backup', 'changed', 'map chunks', 'bytes read',
           'bytes/(changed x chunk)', 'read ms', 'bytes/full', 'time/full'],
          rows,
          ['target: bytes read == changed chunks x chunk size (the set the '
           'snapshot took, status field 23); bytes/full, time/full: '
           'informational (expected about 0.01 and 0.10 for the bytes)',
           'read ms: the reads\' summed latency (fio, issue to '
           'completion); an incremental read is one read per run of its '
           'map, so its time per byte is higher than a full read\'s',
           'the reads are fio replaying an iolog built from the map '
           '(\'dmsetup message DEV 0 map\', page by page), as a loop of '
           'dd over the runs would read them (the reads alone: '
           '\'cbwctl backup --incremental\' also writes a qcow2 image); '
           'the full one reads the whole device the same way (as dd '
           'bs=4M iflag=direct)'])
    panel('track-overwrites', 'change tracking: IOPS / dm-linear (paired)',
          'ratio to dm-linear',
          ['overwrites (trk)', 'linear-b (A/A)', 'first writes (trk)'],
          plot_ow, 0.97)
    panel('track-backup', 'incremental backup / full: bytes and read time',
          'ratio to the full backup', ['bytes', 'time'], plot_rows)


# --- the device kinds side by side ----------------------------------------

# (workload, system, metric, what): the ratios of cbw that the issue sets
# targets on, for every device kind.
SIDE_BY_SIDE = [
    ('first-writes', 'cbw', 'write_iops_ratio_vs_limit', 'first writes',
     'cbw/limit'),
    ('first-writes', 'cbw', 'write_iops_ratio_vs_snap-N', 'first writes',
     'cbw/snap-N'),
    ('first-writes', 'cbw', 'write_iops_ratio_vs_snap-P', 'first writes',
     'cbw/snap-P'),
    ('seq-writes', 'cbw', 'write_MBps_ratio_vs_limit', 'seq writes',
     'cbw/limit'),
    ('seq-writes', 'cbw', 'write_MBps_ratio_vs_snap-N', 'seq writes',
     'cbw/snap-N'),
    ('seq-writes', 'cbw', 'write_MBps_ratio_vs_snap-P', 'seq writes',
     'cbw/snap-P'),
    ('snap-reads-untouched', 'cbw-paired', 'read_ratio', 'snap reads',
     'cbw/origin (paired)'),
    ('backup', 'cbw', 'backup_MBps_ratio_vs_cbw-dd', 'backup',
     'cbw/dd MB/s'),
    ('backup', 'cbw-discard', 'backup_MBps_ratio_vs_cbw-file', 'backup',
     'discard/file MB/s'),
    ('backup', 'cbw', 'p99_write_us_ratio_vs_snap-N', 'backup',
     'cbw p99/snap-N'),
    ('backup', 'cbw', 'p99_write_us_ratio_vs_snap-P', 'backup',
     'cbw p99/snap-P'),
]

# (spec index, panel name, title, target) of the side-by-side panels.
SIDE_PANELS = [
    (0, 'kinds-first-writes', 'first writes: cbw IOPS / I/O limit', 0.9),
    (3, 'kinds-seq-writes', 'sequential writes: cbw MB/s / I/O limit', 0.9),
    (6, 'kinds-snap-reads', 'snapshot reads: cbw / origin (paired)', 0.95),
    (7, 'kinds-backup', 'backup: cbwctl backup MB/s / dd of the snapshot',
     0.9),
]


def find(device, workload, system, chunk, qd, metric):
    for r in RESULTS:
        if (r['device'], r['workload'], r['system'], r['chunk'], r['qd'],
                r['metric']) == (device, workload, system, chunk, qd, metric):
            return r
    return None


def spec_cells(spec):
    """The (chunk, qd) cells of a SIDE_BY_SIDE line, any device kind."""
    w, system, metric = spec[:3]
    cells = {(r['chunk'], r['qd']) for r in RESULTS
             if (r['workload'], r['system'], r['metric']) ==
             (w, system, metric)}
    return sorted(cells, key=lambda x: (chunk_order(x[0]), x[1] or 0))


def side_by_side():
    global DEVICE
    DEVICE = None               # the table and panels of every kind
    kinds = DEVICE_KINDS
    rows = []
    for spec in SIDE_BY_SIDE:
        for c, qd in spec_cells(spec):
            rows.append([spec[3], c, '-' if qd is None else qd, spec[4]] +
                        [ratioval(find(d, spec[0], spec[1], c, qd, spec[2]))
                         for d in kinds])
    table('9. Device kinds side by side: cbw\'s ratios with a target, per '
          'device kind (median over the runs; the tables above per kind)',
          ['workload', 'chunk', 'qd', 'ratio'] + kinds, rows,
          ['ram: brd RAM disks, each I/O completes inside its submission; '
           'nullblk-Nus: memory-backed null_blk, each I/O completes N us '
           'after its submission from a timer interrupt (irqmode=2)',
           'the limits come from the raw runs on the same devices at the '
           'same queue depth; targets as in tables 1, 3, 4b and 5'])
    for i, name, title, hline in SIDE_PANELS:
        spec = SIDE_BY_SIDE[i]
        prow = [(f'{c} qd{qd}' if qd is not None else c,
                 [find(d, spec[0], spec[1], c, qd, spec[2]) for d in kinds])
                for c, qd in spec_cells(spec)]
        panel(name, f'{title}, by device kind', 'ratio', kinds, prow, hline,
              always=True)


def devices_words(gnuplot=False):
    """The devices of the run, for the headers (GNUPLOT: its _ escaped)."""
    nb = [d for d in DEVICE_KINDS if d != 'ram']
    words = []
    if 'ram' in DEVICE_KINDS:
        words.append('brd RAM disks')
    if nb:
        words.append(('null\\\\_blk' if gnuplot else 'null_blk') +
                     ' (' + ', '.join(nb) + ')')
    return ' and '.join(words)


def main():
    global DEVICE, SAMPLES
    if 'ram' in DEVICE_KINDS:
        LINES.append(f"dm-cbw bench: Linux {SETTINGS.get('kernel', '?')}, "
                     f"{SETTINGS.get('runs', '?')} run(s), "
                     f"{SETTINGS.get('cpus', '?')} guest CPUs under "
                     f"QEMU/TCG, brd RAM disks of "
                     f"{SETTINGS.get('disk_mib', '?')} MiB (origin, COW)")
    else:
        LINES.append(f"dm-cbw bench: Linux {SETTINGS.get('kernel', '?')}, "
                     f"{SETTINGS.get('runs', '?')} run(s), "
                     f"{SETTINGS.get('cpus', '?')} guest CPUs under "
                     f"QEMU/TCG")
    nb = [d for d in DEVICE_KINDS if d != 'ram']
    if nb:
        LINES.append(f"null_blk: memory-backed devices of "
                     f"{SETTINGS.get('disk_mib', '?')} MiB (origin, COW), "
                     f"blk-mq, each I/O completed by a timer "
                     f"(irqmode=2) after {', '.join(nb)}: tables 1, 3, 4, "
                     f"4b and 5 once per kind, marked [kind]; table 9 "
                     f"puts the kinds side by side")
        if SETTINGS.get('nullblk_lacks'):
            LINES.append('null_blk: this kernel lacks (left at their '
                         'defaults): ' + SETTINGS['nullblk_lacks'])
    LINES.append('median ±half the min-max range over the runs; ratios per '
                 'run, median; ok/MISS: the team\'s target')
    for DEVICE in DEVICE_KINDS:
        SAMPLES = DEVICES[DEVICE]
        derive()
        first_writes()
        overwrites()
        seq_writes()
        snap_reads()
        backup()
        scale()
        qemu()
        track()
    if len(DEVICE_KINDS) > 1:
        side_by_side()
    misses = [r for r in RESULTS if r.get('verdict') == 'MISS']
    oks = [r for r in RESULTS if r.get('verdict') == 'ok']
    LINES.append('')
    LINES.append(f'targets: {len(oks)} ok, {len(misses)} MISS')
    if len(DEVICE_KINDS) > 1:
        for d in DEVICE_KINDS:
            v = [r['verdict'] for r in RESULTS
                 if r['device'] == d and r.get('verdict')]
            LINES.append(f"  {d}: {v.count('ok')} ok, {v.count('MISS')} "
                         f"MISS")
    text = '\n'.join(LINES) + '\n'
    sys.stdout.write(text)
    with open(os.path.join(OUT, 'table.txt'), 'w') as f:
        f.write(text)
    with open(os.path.join(OUT, 'results.json'), 'w') as f:
        json.dump({'settings': SETTINGS, 'results': RESULTS}, f, indent=1)
    write_gnuplot()


main()
