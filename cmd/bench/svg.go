package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of the chart.
type series struct {
	name   string
	color  string
	values []int
}

// Chart geometry.
const (
	chartW, chartH = 900, 420
	padL, padR     = 60, 20
	padT, padB     = 30, 110
)

// writesChart renders Graph writes per second of section 2 and of the
// baselines against the sustained write quota, as plain SVG.
func writesChart(r *report) string {
	var ss []series
	quota := 0.0
	if q := r.Quota; q != nil {
		ss = append(ss, series{"ours: bulk job (section 2)", "#1f77b4", q.WritesPerSecond})
		quota = q.AllowedWritesPS
	}
	colors := []string{"#ff7f0e", "#2ca02c", "#9467bd"}
	for i, b := range r.Baseline {
		ss = append(ss, series{b.Name, colors[i%len(colors)], b.WritesPerSecond})
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="18" font-size="14" font-weight="bold">Graph writes per second, one tenant each, under the write quota</text>`+"\n", padL)

	xMax, peak := 1, 0
	for _, s := range ss {
		xMax = max(xMax, len(s.values))
		for _, v := range s.values {
			peak = max(peak, v)
		}
	}
	yMax := niceCeil(math.Max(float64(peak), quota*1.25))
	if quota > 0 && float64(peak) > 3*quota {
		yMax = niceCeil(3 * quota) // clip the first-window bursts; their peaks are labelled
	}
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	x := func(i float64) float64 { return float64(padL) + pw*i/float64(xMax) }
	y := func(v float64) float64 { return float64(padT) + ph*(1-math.Min(v, yMax)/yMax) }

	// Axes, grid and ticks.
	for _, t := range ticks(yMax) {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", padL, y(t), chartW-padR, y(t))
		p(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", padL-6, y(t)+4, t)
	}
	for _, t := range ticks(float64(xMax)) {
		p(`<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x(t), chartH-padB+16, t)
	}
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, chartH-padB, chartW-padR, chartH-padB)
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, padT, padL, chartH-padB)
	p(`<text x="%d" y="%d" text-anchor="middle">seconds since the start of each run</text>`+"\n", padL+int(pw/2), chartH-padB+34)
	p(`<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">writes per second</text>`+"\n", padT+int(ph/2))

	if quota > 0 {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d62728" stroke-width="2" stroke-dasharray="8 5"/>`+"\n",
			padL, y(quota), chartW-padR, y(quota))
	}
	for _, s := range ss {
		if len(s.values) == 0 {
			continue
		}
		var pts []string
		for i, v := range s.values {
			// Each value is the count of one second: draw it across that second.
			pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(float64(i)), y(float64(v)), x(float64(i+1)), y(float64(v))))
			if float64(v) > yMax {
				p(`<text x="%.1f" y="%d" fill="%s" font-size="10">%d</text>`+"\n", x(float64(i))+2, padT+10, s.color, v)
			}
		}
		p(`<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
	}

	// Legend.
	ly := chartH - padB + 52
	items := ss
	if quota > 0 {
		items = append(items, series{name: fmt.Sprintf("write quota, sustained: %.0f writes/s", quota), color: "#d62728"})
	}
	for i, s := range items {
		lx := padL + (i%2)*420
		yy := ly + (i/2)*18
		dash := ""
		if s.values == nil && quota > 0 && i == len(items)-1 {
			dash = ` stroke-dasharray="8 5"`
		}
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, yy-4, lx+24, yy-4, s.color, dash)
		p(`<text x="%d" y="%d">%s</text>`+"\n", lx+30, yy, html.EscapeString(s.name))
	}
	p("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

// ticks returns about five round tick values from 0 to top.
func ticks(top float64) []float64 {
	step := niceCeil(top / 5)
	var out []float64
	for t := 0.0; t <= top+1e-9; t += step {
		out = append(out, t)
	}
	return out
}
