//! SVG plots with `plotters`: x–y line/point plots (linear or log axes), category dot/bar
//! charts (one row per problem) and heat maps. Every function returns the SVG document as a
//! string so it can be written to a file and inlined in the HTML report.

use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, SegmentValue, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::LabError;

/// A distinguishable colour per series (colour-blind-friendly Okabe–Ito order).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// An axis: its label (with the unit in brackets) and whether it is logarithmic.
#[derive(Clone, Debug)]
pub struct Axis {
    pub label: String,
    pub log: bool,
}

impl Axis {
    pub fn linear(label: &str) -> Self {
        Axis {
            label: label.to_string(),
            log: false,
        }
    }
    pub fn log(label: &str) -> Self {
        Axis {
            label: label.to_string(),
            log: true,
        }
    }
}

/// One named series of (x, y) points, drawn as points joined by a line when `line`.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub line: bool,
}

impl Series {
    pub fn new(label: &str, points: Vec<(f64, f64)>, line: bool) -> Self {
        Series {
            label: label.to_string(),
            points,
            line,
        }
    }
}

/// An x–y plot.
#[derive(Clone, Debug)]
pub struct XyPlot {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Draw the reference line y = x (dashed grey), e.g. for "claimed level = true level".
    pub diagonal: bool,
}

fn plot_err<E: std::fmt::Debug>(e: E) -> LabError {
    LabError::Plot(format!("{e:?}"))
}

/// A range that contains every value, padded by 5% (linear) or a factor (log); log ranges
/// only use positive values.
fn value_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        if !v.is_finite() || (log && v <= 0.0) {
            continue;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (a, b) = (lo / 1.5, hi * 1.5);
        if b / a < 10.0 {
            let mid = (a * b).sqrt();
            (mid / 3.2, mid * 3.2)
        } else {
            (a, b)
        }
    } else {
        let span = if hi > lo { hi - lo } else { hi.abs().max(1.0) };
        let lo2 = if lo >= 0.0 && lo - 0.05 * span < 0.0 {
            0.0
        } else {
            lo - 0.05 * span
        };
        (lo2, hi + 0.05 * span)
    }
}

/// A logarithmic axis over `[lo, hi]` labelled at [`log_ticks`].
fn log_axis(
    lo: f64,
    hi: f64,
) -> impl AsRangedCoord<Value = f64, CoordDescType: ValueFormatter<f64>> {
    (lo..hi).log_scale().with_key_points(log_ticks(lo, hi))
}

/// Tick values of a logarithmic axis over `[lo, hi]`: the powers of ten when there are at
/// least four of them, else `1, 2, 5` times the powers of ten, else also `3` and `7` (plotters'
/// own choice crowds a range of less than a decade, e.g. 60000 70000 80000 … printed over
/// each other, and leaves none below 1 on 0.2–3).
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (k0..=k1)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    [&[1.0][..], &[1.0, 2.0, 5.0], &[1.0, 2.0, 3.0, 5.0, 7.0]]
        .iter()
        .map(|m| ticks(m))
        .find(|t| t.len() >= 4)
        .unwrap_or_else(|| ticks(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0]))
}

/// A short tick label: integers without decimals, otherwise 3 significant digits.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (a - a.round()).abs() < 1e-9 && a < 1e7 {
        return format!("{}", v.round() as i64);
    }
    if !(1e-3..1e7).contains(&a) {
        return format!("{v:.1e}").replace(".0e", "e");
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    // 0.500 → 0.5: trailing zeros after the point say nothing on an axis
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Draws `pts` with the marker shape of series `i` (circle, triangle, square, cross) and
/// registers the legend entry.
macro_rules! draw_marked {
    ($chart:expr, $pts:expr, $i:expr, $color:expr, $label:expr) => {{
        let color: RGBColor = $color;
        let pts = $pts;
        match $i % 4 {
            0 => $chart
                .draw_series(pts.into_iter().map(|q| Circle::new(q, 3, color.filled())))
                .map_err(plot_err)?
                .label($label)
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled())),
            1 => $chart
                .draw_series(
                    pts.into_iter()
                        .map(|q| TriangleMarker::new(q, 5, color.filled())),
                )
                .map_err(plot_err)?
                .label($label)
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 5, color.filled())),
            2 => $chart
                .draw_series(pts.into_iter().map(|q| {
                    EmptyElement::at(q) + Rectangle::new([(-4, -4), (4, 4)], color.filled())
                }))
                .map_err(plot_err)?
                .label($label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 5, y - 4), (x + 13, y + 4)], color.filled())
                }),
            _ => $chart
                .draw_series(
                    pts.into_iter()
                        .map(|q| Cross::new(q, 4, color.stroke_width(2))),
                )
                .map_err(plot_err)?
                .label($label)
                .legend(move |(x, y)| Cross::new((x + 9, y), 4, color.stroke_width(2))),
        };
    }};
}

/// A legend entry: label, marker shape index (see `draw_marked!`; `usize::MAX` = bar,
/// `usize::MAX - 1` = dashed line) and colour.
type LegendEntry = (String, usize, RGBColor);

/// Draws a legend as rows of (marker, label) in `area` (a strip above the chart), wrapping to
/// the next row when the width is used up. Returns nothing; the strip height is chosen by
/// [`legend_height`].
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[LegendEntry],
) -> Result<(), LabError> {
    let (w, _) = area.dim_in_pixel();
    let mut x = 70i32;
    let mut y = 12i32;
    for (label, shape, color) in entries {
        let text_w = 7 * label.chars().count() as i32 + 34;
        if x + text_w > w as i32 - 10 && x > 70 {
            x = 70;
            y += 20;
        }
        let c = *color;
        let (mx, my) = (x + 6, y);
        match *shape {
            usize::MAX => area.draw(&Rectangle::new(
                [(mx - 6, my - 5), (mx + 6, my + 5)],
                c.filled(),
            )),
            s if s == usize::MAX - 1 => area.draw(&PathElement::new(
                vec![(mx - 8, my), (mx + 8, my)],
                c.stroke_width(1),
            )),
            s => match s % 4 {
                0 => area.draw(&Circle::new((mx, my), 4, c.filled())),
                1 => area.draw(&TriangleMarker::new((mx, my), 5, c.filled())),
                2 => area.draw(&Rectangle::new(
                    [(mx - 4, my - 4), (mx + 4, my + 4)],
                    c.filled(),
                )),
                _ => area.draw(&Cross::new((mx, my), 4, c.stroke_width(2))),
            },
        }
        .map_err(plot_err)?;
        area.draw(&Text::new(
            label.clone(),
            (x + 16, y - 7),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(plot_err)?;
        x += text_w;
    }
    Ok(())
}

/// Height of the legend strip for `entries` at width `w`.
fn legend_height(entries: &[LegendEntry], w: u32) -> u32 {
    let mut rows = 1;
    let mut x = 70i32;
    for (label, _, _) in entries {
        let text_w = 7 * label.chars().count() as i32 + 34;
        if x + text_w > w as i32 - 10 && x > 70 {
            x = 70;
            rows += 1;
        }
        x += text_w;
    }
    8 + 20 * rows
}

/// Renders an [`XyPlot`] to an SVG string.
pub fn xy_plot(p: &XyPlot) -> Result<String, LabError> {
    let xs = p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0));
    let ys = p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1));
    let (x0, x1) = value_range(xs, p.x.log);
    let (mut y0, mut y1) = value_range(ys, p.y.log);
    if p.diagonal {
        // same range on both axes so the diagonal is the 45° line
        y0 = y0.min(x0);
        y1 = y1.max(x1);
    }
    let (x0, x1) = if p.diagonal {
        (x0.min(y0), x1.max(y1))
    } else {
        (x0, x1)
    };
    let mut svg = String::new();
    {
        let mut entries: Vec<LegendEntry> = Vec::new();
        if p.diagonal {
            entries.push(("y = x".into(), usize::MAX - 1, RGBColor(150, 150, 150)));
        }
        for (i, s) in p.series.iter().enumerate() {
            entries.push((s.label.clone(), i, PALETTE[i % PALETTE.len()]));
        }
        let lh = legend_height(&entries, 760);
        let root = SVGBackend::with_string(&mut svg, (760, 460 + lh)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (chart_area, legend_area) = root.split_vertically(460);
        draw_legend(&legend_area, &entries)?;
        let root = chart_area;
        match (p.x.log, p.y.log) {
            (false, false) => draw_xy(&root, p, x0..x1, y0..y1)?,
            (true, false) => draw_xy(&root, p, log_axis(x0, x1), y0..y1)?,
            (false, true) => draw_xy(&root, p, x0..x1, log_axis(y0, y1))?,
            (true, true) => draw_xy(&root, p, log_axis(x0, x1), log_axis(y0, y1))?,
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn draw_xy<X, Y>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    p: &XyPlot,
    xr: X,
    yr: Y,
) -> Result<(), LabError>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(&p.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(xr, yr)
        .map_err(plot_err)?;
    let fmt = |v: &f64| tick(*v);
    chart
        .configure_mesh()
        .x_desc(p.x.label.as_str())
        .y_desc(p.y.label.as_str())
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .axis_desc_style(("sans-serif", 14))
        .max_light_lines(3)
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(plot_err)?;
    let keep = |(x, y): &(f64, f64)| {
        x.is_finite() && y.is_finite() && (!p.x.log || *x > 0.0) && (!p.y.log || *y > 0.0)
    };
    if p.diagonal {
        let r = chart.x_range();
        let (a, b) = (r.start, r.end);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(a, a), (b, b)],
                6,
                4,
                RGBColor(150, 150, 150).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label("y = x")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(150, 150, 150)));
    }
    // drawn in reverse so the first series is on top where markers coincide
    for (i, s) in p.series.iter().enumerate().rev() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(keep).collect();
        if s.line && pts.len() > 1 {
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(plot_err)?;
        }
        draw_marked!(chart, pts, i, color, s.label.as_str());
    }
    Ok(())
}

/// How a [`CategoryChart`] draws its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CategoryStyle {
    /// One marker per series and category, the markers of a category joined by a thin line
    /// (a "dumbbell": e.g. the level a union claims the goal vs the level a plan exists).
    Dots,
    /// One horizontal bar per category (first series only).
    Bars,
}

/// One row per category (e.g. one per planning problem), values on the horizontal axis.
#[derive(Clone, Debug)]
pub struct CategoryChart {
    pub title: String,
    pub categories: Vec<String>,
    pub value_axis: Axis,
    /// (label, one value per category; None = no value for that category)
    pub series: Vec<(String, Vec<Option<f64>>)>,
    pub style: CategoryStyle,
}

/// Renders a [`CategoryChart`] to an SVG string.
pub fn category_chart(c: &CategoryChart) -> Result<String, LabError> {
    let n = c.categories.len().max(1);
    let values = c
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .chain(if c.style == CategoryStyle::Bars && !c.value_axis.log {
            Some(0.0)
        } else {
            None
        });
    let (v0, v1) = value_range(values, c.value_axis.log);
    let height = (110 + 24 * n).clamp(260, 2400) as u32;
    let mut svg = String::new();
    {
        let entries: Vec<LegendEntry> = match c.style {
            CategoryStyle::Bars => c
                .series
                .iter()
                .take(1)
                .map(|(l, _)| (l.clone(), usize::MAX, PALETTE[0]))
                .collect(),
            CategoryStyle::Dots => c
                .series
                .iter()
                .enumerate()
                .map(|(k, (l, _))| (l.clone(), k, PALETTE[k % PALETTE.len()]))
                .collect(),
        };
        let lh = legend_height(&entries, 760);
        let root = SVGBackend::with_string(&mut svg, (760, height + lh)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (chart_area, legend_area) = root.split_vertically(height);
        draw_legend(&legend_area, &entries)?;
        let root = chart_area;
        if c.value_axis.log {
            draw_categories(&root, c, log_axis(v0, v1))?;
        } else {
            draw_categories(&root, c, v0..v1)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn draw_categories<X>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    c: &CategoryChart,
    xr: X,
) -> Result<(), LabError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let n = c.categories.len().max(1);
    let label_width = c
        .categories
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40) as u32
        * 7
        + 16;
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(label_width)
        .build_cartesian_2d(xr, (0..n).into_segmented())
        .map_err(plot_err)?;
    let cats = &c.categories;
    let yfmt = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => cats.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let xfmt = |v: &f64| tick(*v);
    chart
        .configure_mesh()
        .x_desc(c.value_axis.label.as_str())
        .y_labels(n)
        .y_label_formatter(&yfmt)
        .x_label_formatter(&xfmt)
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_err)?;
    let log = c.value_axis.log;
    let ok = |v: f64| v.is_finite() && (!log || v > 0.0);
    match c.style {
        CategoryStyle::Bars => {
            if let Some((label, vals)) = c.series.first() {
                let x0 = chart.x_range().start;
                let color = PALETTE[0];
                chart
                    .draw_series(vals.iter().enumerate().filter_map(|(i, v)| {
                        let v = (*v).filter(|v| ok(*v))?;
                        Some(Rectangle::new(
                            [
                                (x0, SegmentValue::Exact(i)),
                                (v, SegmentValue::Exact(i + 1)),
                            ],
                            color.mix(0.8).filled(),
                        ))
                    }))
                    .map_err(plot_err)?
                    .label(label.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                    });
                // white separators between bars
                chart
                    .draw_series((1..n).map(|i| {
                        PathElement::new(
                            vec![
                                (x0, SegmentValue::Exact(i)),
                                (chart_end(&vals[..], log), SegmentValue::Exact(i)),
                            ],
                            WHITE.stroke_width(3),
                        )
                    }))
                    .map_err(plot_err)?;
            }
        }
        CategoryStyle::Dots => {
            // thin grey line joining a category's values (the "gap")
            chart
                .draw_series((0..c.categories.len()).filter_map(|i| {
                    let vs: Vec<f64> = c
                        .series
                        .iter()
                        .filter_map(|(_, v)| v.get(i).copied().flatten())
                        .filter(|v| ok(*v))
                        .collect();
                    let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (vs.len() > 1 && hi > lo).then(|| {
                        PathElement::new(
                            vec![
                                (lo, SegmentValue::CenterOf(i)),
                                (hi, SegmentValue::CenterOf(i)),
                            ],
                            RGBColor(170, 170, 170).stroke_width(2),
                        )
                    })
                }))
                .map_err(plot_err)?;
            for (k, (label, vals)) in c.series.iter().enumerate() {
                let color = PALETTE[k % PALETTE.len()];
                let pts: Vec<(f64, SegmentValue<usize>)> = vals
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        let v = (*v).filter(|v| ok(*v))?;
                        Some((v, SegmentValue::CenterOf(i)))
                    })
                    .collect();
                draw_marked!(chart, pts, k, color, label.as_str());
            }
        }
    }
    Ok(())
}

fn chart_end(vals: &[Option<f64>], _log: bool) -> f64 {
    vals.iter().flatten().copied().fold(0.0, f64::max)
}

/// A heat map: `values[row][col]` in [0, 1] (None = not measured, drawn grey), one cell per
/// (column tick, row tick), each cell printed with its value.
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub x_ticks: Vec<String>,
    pub y_label: String,
    pub y_ticks: Vec<String>,
    pub values: Vec<Vec<Option<f64>>>,
    /// What the colour means, e.g. "accuracy (red 0 → green 1)".
    pub value_label: String,
}

/// Colour for a value in [0, 1]: red (0) through yellow to green (1).
fn heat_color(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let (r, g) = if v < 0.5 {
        (230.0, 60.0 + 2.0 * v * 160.0)
    } else {
        (
            230.0 - (v - 0.5) * 2.0 * 170.0,
            220.0 - (v - 0.5) * 2.0 * 50.0,
        )
    };
    RGBColor(r as u8, g as u8, 80)
}

/// Renders a [`Heatmap`] to an SVG string.
pub fn heatmap(h: &Heatmap) -> Result<String, LabError> {
    let nx = h.x_ticks.len().max(1);
    let ny = h.y_ticks.len().max(1);
    let title = format!("{} — colour: {}", h.title, h.value_label);
    // wide enough for the caption (about 8 px per character at 15 px)
    let width = (140 + 64 * nx)
        .max(40 + 8 * title.chars().count())
        .clamp(420, 1400) as u32;
    let height = (140 + 36 * ny).clamp(300, 1400) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d((0..nx).into_segmented(), (0..ny).into_segmented())
            .map_err(plot_err)?;
        let xfmt = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => h.x_ticks.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let yfmt = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => h.y_ticks.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(h.x_label.as_str())
            .y_desc(h.y_label.as_str())
            .x_labels(nx)
            .y_labels(ny)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(plot_err)?;
        let mut cells = Vec::new();
        for (j, row) in h.values.iter().enumerate().take(ny) {
            for (i, v) in row.iter().enumerate().take(nx) {
                let color = match v {
                    Some(v) => heat_color(*v),
                    None => RGBColor(200, 200, 200),
                };
                cells.push(Rectangle::new(
                    [
                        (SegmentValue::Exact(i), SegmentValue::Exact(j)),
                        (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
                    ],
                    color.filled(),
                ));
            }
        }
        chart.draw_series(cells).map_err(plot_err)?;
        let style = ("sans-serif", 12)
            .into_text_style(&root)
            .pos(Pos::new(HPos::Center, VPos::Center));
        let mut texts = Vec::new();
        for (j, row) in h.values.iter().enumerate().take(ny) {
            for (i, v) in row.iter().enumerate().take(nx) {
                let s = match v {
                    Some(v) => format!("{v:.2}"),
                    None => "n/a".into(),
                };
                texts.push(Text::new(
                    s,
                    (SegmentValue::CenterOf(i), SegmentValue::CenterOf(j)),
                    style.clone(),
                ));
            }
        }
        chart.draw_series(texts).map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_round_and_not_crowded() {
        // several decades: the powers of ten
        assert_eq!(log_ticks(3.0, 2e4), vec![10.0, 100.0, 1000.0, 10000.0]);
        // about a decade and a half: 1, 2, 5 times them
        assert_eq!(
            log_ticks(7_500.0, 300_000.0),
            vec![10_000.0, 20_000.0, 50_000.0, 100_000.0, 200_000.0]
        );
        // under a decade, across 1: values below 1 get ticks too
        assert_eq!(log_ticks(0.2, 3.6), vec![0.2, 0.5, 1.0, 2.0]);
        // a narrow range still gets some ticks; nothing for an empty or non-positive range
        assert_eq!(log_ticks(1.1, 2.5), vec![1.5, 2.0]);
        assert!(log_ticks(0.0, 1.0).is_empty() && log_ticks(2.0, 1.0).is_empty());
        // and their labels carry no trailing zeros
        let labels: Vec<String> = [0.2, 0.5, 1.5, 12.5, 0.125, 200_000.0, 1e8, 2.5e8]
            .iter()
            .map(|&v| tick(v))
            .collect();
        assert_eq!(
            labels,
            ["0.2", "0.5", "1.5", "12.5", "0.125", "200000", "1e8", "2.5e8"]
        );
    }

    #[test]
    fn xy_plot_has_axes_labels_and_legend() {
        let p = XyPlot {
            title: "t".into(),
            x: Axis::log("n [nodes]"),
            y: Axis::log("work [ops]"),
            series: vec![
                Series::new("BFS edge visits", vec![(10.0, 20.0), (100.0, 300.0)], true),
                Series::new("matrix ops", vec![(10.0, 1e3), (100.0, 1e6)], true),
            ],
            diagonal: false,
        };
        let svg = xy_plot(&p).unwrap();
        assert!(svg.starts_with("<svg"));
        for s in ["n [nodes]", "work [ops]", "BFS edge visits", "matrix ops"] {
            assert!(svg.contains(s), "missing {s}");
        }
    }

    #[test]
    fn category_and_heatmap_render() {
        let c = CategoryChart {
            title: "levels".into(),
            categories: vec!["a".into(), "b".into()],
            value_axis: Axis::linear("level [steps]"),
            series: vec![
                ("goals present".into(), vec![Some(2.0), Some(1.0)]),
                ("plan".into(), vec![Some(4.0), None]),
            ],
            style: CategoryStyle::Dots,
        };
        let svg = category_chart(&c).unwrap();
        assert!(svg.contains("goals present") && svg.contains("level [steps]"));
        let bars = CategoryChart {
            style: CategoryStyle::Bars,
            ..c
        };
        assert!(category_chart(&bars).unwrap().contains("<rect"));
        let h = Heatmap {
            title: "acc".into(),
            x_label: "d".into(),
            x_ticks: vec!["8".into(), "16".into()],
            y_label: "n".into(),
            y_ticks: vec!["10".into()],
            values: vec![vec![Some(0.25), None]],
            value_label: "accuracy".into(),
        };
        let svg = heatmap(&h).unwrap();
        assert!(svg.contains("0.25") && svg.contains("n/a"));
    }
}
