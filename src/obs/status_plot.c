/* The status page's plot: rows/s and files/s over the last hour, inline SVG drawn here. */
#include "obs/html.h"
#include "obs/status_page.h"

#include <math.h>
#include <stdio.h>

enum { W = 760, H = 210, LEFT = 64, RIGHT = 64, TOP = 28, BOTTOM = 30, PW = W - LEFT - RIGHT, PH = H - TOP - BOTTOM };
#define STEP_SECS ((double)ZL_SERIES_STEP_MS / 1000)

/* The smallest of 1, 2, 5 times a power of ten that is at least v (1 when v is 0). */
static double nice_ceil(double v)
{
	if (!(v > 0))
		return 1;
	double e = pow(10, floor(log10(v)));
	double f = v / e;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

static double peak(const double *v)
{
	double m = 0;
	for (int i = 0; i < ZL_SERIES_STEPS; i++)
		if (v[i] / STEP_SECS > m)
			m = v[i] / STEP_SECS;
	return m;
}

static double x_at(int i) { return LEFT + (double)i * PW / (ZL_SERIES_STEPS - 1); }
static double y_at(double v, double top) { return TOP + PH - v / top * PH; }

static void num(zl_buf *out, double v)
{
	if (v >= 1e6)
		zl_buf_printf(out, "%.3gM", v / 1e6);
	else if (v >= 1e3)
		zl_buf_printf(out, "%.3gk", v / 1e3);
	else
		zl_buf_printf(out, "%.3g", v);
}

static void polyline(zl_buf *out, const char *cls, const double *v, double top)
{
	zl_buf_printf(out, "<polyline class=\"%s\" points=\"", cls);
	for (int i = 0; i < ZL_SERIES_STEPS; i++) {
		double y = y_at(v[i] > 0 ? v[i] / STEP_SECS : 0, top);
		zl_buf_printf(out, "%s%.1f,%.1f", i ? " " : "", x_at(i), y < TOP ? TOP : y);
	}
	zl_buf_adds(out, "\"/>\n");
}

/* Grid lines at 0, half and the top, labelled rows/s on the left and files/s on the right. */
static void y_axes(zl_buf *out, double rows_top, double files_top)
{
	for (int k = 0; k <= 2; k++) {
		double y = TOP + PH - PH * k / 2.0;
		zl_buf_printf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", LEFT, y, LEFT + PW, y);
		zl_buf_printf(out, "<text class=\"y-rows\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 6, y + 4);
		num(out, rows_top * k / 2);
		zl_buf_printf(out, "</text><text class=\"y-files\" x=\"%d\" y=\"%.1f\">", LEFT + PW + 6, y + 4);
		num(out, files_top * k / 2);
		zl_buf_adds(out, "</text>\n");
	}
	zl_buf_printf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", LEFT, TOP, LEFT, TOP + PH);
	zl_buf_printf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", LEFT + PW, TOP, LEFT + PW, TOP + PH);
}

/* Five labels under the plot, the UTC time (HH:MM) at which those steps begin. */
static void x_axis(zl_buf *out, int64_t start_ms)
{
	zl_buf_printf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", LEFT, TOP + PH, LEFT + PW, TOP + PH);
	for (int k = 0; k <= 4; k++) {
		int i = k * (ZL_SERIES_STEPS - 1) / 4;
		long long secs = (long long)((start_ms + (int64_t)i * ZL_SERIES_STEP_MS) / 1000);
		zl_buf_printf(out, "<text class=\"x\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%02lld:%02lld%s</text>\n",
		              x_at(i), TOP + PH + 18, (secs / 3600) % 24, (secs / 60) % 60, k == 4 ? " UTC" : "");
	}
}

static void legend(zl_buf *out)
{
	zl_buf_printf(out, "<g class=\"legend\"><line class=\"rows\" x1=\"%d\" y1=\"12\" x2=\"%d\" y2=\"12\" stroke-width=\"2\"/>"
	                   "<text x=\"%d\" y=\"16\">rows/s (left axis)</text>",
	              LEFT, LEFT + 24, LEFT + 30);
	zl_buf_printf(out, "<line class=\"files\" x1=\"%d\" y1=\"12\" x2=\"%d\" y2=\"12\" stroke-width=\"2\"/>"
	                   "<text x=\"%d\" y=\"16\">files/s (right axis)</text></g>\n",
	              LEFT + 200, LEFT + 224, LEFT + 230);
}

void zl_status_plot(zl_buf *out, const zl_series *s)
{
	double rows_top = nice_ceil(peak(s->rows)), files_top = nice_ceil(peak(s->files));
	zl_buf_printf(out, "<svg id=\"throughput\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	                   "aria-label=\"rows and files loaded per second over the last hour\" data-steps=\"%d\" "
	                   "data-step-ms=\"%d\" data-start=\"%lld\">\n",
	              W, H, W, H, ZL_SERIES_STEPS, ZL_SERIES_STEP_MS, (long long)s->start_ms);
	legend(out);
	y_axes(out, rows_top, files_top);
	x_axis(out, s->start_ms);
	polyline(out, "rows", s->rows, rows_top);
	polyline(out, "files", s->files, files_top);
	zl_buf_adds(out, "</svg>\n");
}
