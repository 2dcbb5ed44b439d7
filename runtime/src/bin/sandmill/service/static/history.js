// The plots of /ui/history: reads the finished jobs from #history-data (JSON embedded by the
// server: [{id, finished (unix seconds), duration (s), mib_per_s}], oldest first) and draws
// job duration and throughput with uPlot into #plot-duration and #plot-throughput.
"use strict";
(function () {
    const jobs = JSON.parse(document.getElementById("history-data").textContent);
    const x = jobs.map((j) => j.finished);
    const plots = [
        ["plot-duration", "duration (s)", jobs.map((j) => j.duration), "#1565c0"],
        ["plot-throughput", "throughput (MiB/s)", jobs.map((j) => j.mib_per_s), "#2e7d32"],
    ];
    for (const [id, label, y, color] of plots) {
        const el = document.getElementById(id);
        const width = Math.max(320, el.clientWidth || 800);
        new uPlot({
            width: width,
            height: 280,
            title: label,
            scales: { x: { time: true } },
            // UTC, as every time on these pages.
            tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
            series: [
                { label: "finished" },
                { label: label, stroke: color, width: 2, points: { show: true, size: 6 } },
            ],
            axes: [{}, { label: label }],
        }, [x, y], el);
    }
})();
