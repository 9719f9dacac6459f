# bench/gc.sh's report: reads the run's rows (meta KEY VALUE, note SUBJECT TEXT, SUBJECT FIGURE ROUND VALUE, where
# SUBJECT is BACKEND-BLOBS) and writes the curve TSV for the plotter (meta/curve/point/growth rows, then the raw rows)
# and the markdown report. Variables: fs_sizes, s3_sizes (space-separated blob counts), tsv, md (output paths).
BEGIN { OFS = "\t" }
$1 == "meta" { metas[++nmeta] = $2; meta[$2] = $3; next }
$1 == "note" { notes[++nnote] = $2 ": " $3; next }
NF == 4 { v[$1, $2] = $4; raw[++nraw] = $0 }

# Log-log slope between consecutive points, classified; the bend is where the class changes.
function growth(id, series, backend, figure, sizes,    n, s, i, x, y, slope, cls, text, last) {
  n = split(sizes, s, " ")
  text = ""; last = ""
  for (i = 2; i <= n; i++) {
    x = s[i]; y = v[backend "-" x, figure]; py = v[backend "-" s[i-1], figure]
    if (y == "" || py == "") continue
    if (y < 0.1) y = 0.1
    if (py < 0.1) py = 0.1
    slope = log(y / py) / log(x / s[i-1])
    cls = slope < 0.15 ? "flat" : slope < 0.75 ? "log" : slope <= 1.25 ? "linear" : "superlinear"
    text = text (text == "" ? "" : ", ") sprintf("slope %.2f from %s to %s", slope, s[i-1], x)
    last = cls
  }
  if (last == "") return ""
  print "growth", id, series, last, text " on log-log (class from the last segment)" > tsv
  return last " (" text ")"
}

function curve(id, title, ylabel, yscale, backend, sizes, figures, labels,    n, s, f, l, k, i, x) {
  n = split(sizes, s, " ")
  if (n == 0) return
  split(figures, f, " "); k = split(labels, l, ",")
  print "curve", id, title, "blobs", ylabel, "log", yscale > tsv
  for (j = 1; j <= k; j++)
    for (i = 1; i <= n; i++) {
      x = s[i]
      if (v[backend "-" x, f[j]] != "") print "point", id, l[j], x, v[backend "-" x, f[j]] > tsv
    }
  for (j = 1; j <= k; j++) grow[id, l[j]] = growth(id, l[j], backend, f[j], sizes)
}

function table(backend, sizes, title,    n, s, i, x, fig, ratio, check) {
  n = split(sizes, s, " ")
  if (n == 0) return
  print "## " title "\n" > md
  print "| blobs | Distribution offline s | Berth online s | Berth / Distribution time | Distribution peak RSS MiB | Berth VmHWM before → after GC MiB | Berth growth MiB | blobs left (expected) Distribution / Berth | pulls during Berth GC (failures, p99 ms) |" > md
  print "|---:|---:|---:|---:|---:|---:|---:|---|---|" > md
  for (i = 1; i <= n; i++) {
    x = s[i]; k = backend "-" x
    ratio = (v[k, "dist_s"] > 0 && v[k, "berth_s"] != "") ? sprintf("%.2fx", v[k, "berth_s"] / v[k, "dist_s"]) : "-"
    check = sprintf("%s / %s (%s)", v[k, "dist_left"], v[k, "berth_left"], v[k, "dist_expected"])
    if (v[k, "dist_missing"] + v[k, "dist_extra"] + v[k, "berth_missing"] + v[k, "berth_extra"] > 0 || v[k, "dist_left"] != v[k, "dist_expected"] || v[k, "berth_left"] != v[k, "berth_expected"])
      check = check sprintf(" **MISMATCH** missing %s/%s extra %s/%s", v[k, "dist_missing"], v[k, "berth_missing"], v[k, "dist_extra"], v[k, "berth_extra"])
    else check = check " ok"
    printf "| %s | %s | %s | %s | %s | %s → %s | %s | %s | %s (%s, %s) |\n", x, v[k, "dist_s"], v[k, "berth_s"], ratio, v[k, "dist_rss_mib"], \
      v[k, "berth_hwm_before_mib"], v[k, "berth_hwm_mib"], v[k, "berth_growth_mib"], check, v[k, "pulls"], v[k, "pull_failures"], v[k, "pull_p99_ms"] > md
  }
  printf "\nFill (layout written directly, per registry): " > md
  for (i = 1; i <= n; i++) printf "%s%s blobs %s s / %s s", (i > 1 ? "; " : ""), s[i], v[backend "-" s[i], "dist_fill_s"], v[backend "-" s[i], "berth_fill_s"] > md
  print ".\n" > md
}

END {
  for (i = 1; i <= nmeta; i++) print "meta", metas[i], meta[metas[i]] > tsv
  curve("gc-time-fs", "Garbage collection time, filesystem", "seconds", "log", "fs", fs_sizes, "dist_s berth_s", "Distribution,Berth")
  curve("gc-memory-fs", "Garbage collection peak memory, filesystem", "MiB", "log", "fs", fs_sizes, \
    "dist_rss_mib berth_growth_mib berth_hwm_mib", "Distribution,Berth,Berth absolute")
  curve("gc-time-s3", "Garbage collection time, S3 (Ceph RGW)", "seconds", "log", "s3", s3_sizes, "dist_s berth_s", "Distribution,Berth")
  curve("gc-memory-s3", "Garbage collection peak memory, S3 (Ceph RGW)", "MiB", "log", "s3", s3_sizes, \
    "dist_rss_mib berth_growth_mib berth_hwm_mib", "Distribution,Berth,Berth absolute")
  for (i = 1; i <= nraw; i++) print "raw", raw[i] > tsv
  for (i = 1; i <= nnote; i++) print "note", notes[i] > tsv

  print "# Garbage collection: time and peak memory as the blob count grows\n" > md
  print "Berth runs its scheduled **online** collection inside `berth serve` (first run one interval after start-up, grace period 0) while " \
    "a pull loop fetches kept images through it; Distribution 2.8.2 runs **offline** `docker-registry garbage-collect`. Both get the " \
    "same layout, written directly (half of the images deleted: their blobs are the garbage). Berth's time is the duration its " \
    "collector logs, which includes the online collector's fixed 5 s settle pause between quarantine and purge; Distribution's is " \
    "the wall time of the command. Memory: Distribution is the command's peak RSS; Berth is the serve process's VmHWM growth " \
    "during the collection (baseline read while serving pulls, just before) and its absolute VmHWM.\n" > md
  print "| | |\n|---|---|" > md
  for (i = 1; i <= nmeta; i++) printf "| %s | %s |\n", metas[i], meta[metas[i]] > md
  print "" > md
  table("fs", fs_sizes, "Filesystem")
  table("s3", s3_sizes, "S3 (Ceph RGW on 127.0.0.1)")
  print "## Growth (log-log slope between consecutive points)\n" > md
  print "| curve | series | growth |\n|---|---|---|" > md
  split("gc-time-fs gc-memory-fs gc-time-s3 gc-memory-s3", ids, " ")
  split("Distribution,Berth,Berth absolute", series, ",")
  for (i = 1; i <= 4; i++) for (j = 1; j <= 3; j++) if (grow[ids[i], series[j]] != "") printf "| %s | %s | %s |\n", ids[i], series[j], grow[ids[i], series[j]] > md
  if (nnote > 0) {
    print "\n## Notes\n" > md
    for (i = 1; i <= nnote; i++) print "- " notes[i] > md
  }
}
