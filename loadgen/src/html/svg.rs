//! Charts as inline SVG: axis scales and their ticks, grouped bar charts and line charts.

use super::markup::{escape, number};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
/// Room for the y tick labels and the y axis title.
const LEFT: f64 = 78.0;
const RIGHT: f64 = 20.0;
/// Room for the legend.
const TOP: f64 = 34.0;
/// Room for the x tick labels and the x axis title.
const BOTTOM: f64 = 52.0;
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
/// Tableau 10's first colours: told apart also by most colour-blind readers.
const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2",
];
const AXIS_COLOUR: &str = "#8a93a6";
const GRID_COLOUR: &str = "#e6e9ef";
const TEXT_COLOUR: &str = "#3b4252";
/// Ticks an axis aims for.
const TARGET_TICKS: f64 = 5.0;
/// Positive values spanning more than this ratio get a log axis where the chart allows one, so
/// that a p50 stays readable next to a max fifty times larger.
const LOG_RATIO: f64 = 20.0;
/// Decades (about a factor of 2) kept between the start of a log axis and the smallest value,
/// so that its bar or point does not sit on the axis as if it were nothing.
const LOG_HEADROOM: f64 = 0.3;
/// Legend text advance per character: the legend is laid out without measuring text.
const LEGEND_CHAR_WIDTH: f64 = 7.0;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Linear,
    /// `low`, `high` and `step` count decades: they are exponents of ten.
    Log,
}

/// Where values fall along one axis: from 0 at its start to 1 at its end.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scale {
    kind: Kind,
    low: f64,
    high: f64,
    step: f64,
}

fn finite(values: &[f64]) -> impl Iterator<Item = f64> + '_ {
    values.iter().copied().filter(|v| v.is_finite())
}

/// Smallest and largest positive value.
fn positive_range(values: &[f64]) -> Option<(f64, f64)> {
    finite(values)
        .filter(|v| *v > 0.0)
        .fold(None, |range, v| match range {
            None => Some((v, v)),
            Some((low, high)) => Some((v.min(low), v.max(high))),
        })
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `raw`.
fn round_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let multiple = match raw / power {
        m if m <= 1.0 => 1.0,
        m if m <= 2.0 => 2.0,
        m if m <= 5.0 => 5.0,
        _ => 10.0,
    };
    multiple * power
}

impl Scale {
    /// From zero (or a round number under the smallest negative value) to a round number at or
    /// above the largest value; 0 to 1 when there is nothing above zero to show.
    fn linear(values: &[f64]) -> Scale {
        let (low, high) =
            finite(values).fold((0.0f64, 0.0f64), |(low, high), v| (low.min(v), high.max(v)));
        let high = if high > low { high } else { low + 1.0 };
        let step = round_step((high - low) / TARGET_TICKS);
        Scale {
            kind: Kind::Linear,
            low: (low / step).floor() * step,
            high: (high / step).ceil() * step,
            step,
        }
    }

    /// Whole decades around the positive values when they span more than `LOG_RATIO`,
    /// otherwise `linear`. Zero and negative values sit at the start of a log axis.
    fn fitting(values: &[f64]) -> Scale {
        match positive_range(values) {
            Some((smallest, largest)) if largest / smallest > LOG_RATIO => {
                let low = (smallest.log10() - LOG_HEADROOM).floor();
                let decades = (largest.log10().ceil() - low).max(1.0);
                let step = (decades / TARGET_TICKS).ceil();
                // The axis ends on a tick, so that the top label is where its value is.
                Scale {
                    kind: Kind::Log,
                    low,
                    high: low + (decades / step).ceil() * step,
                    step,
                }
            }
            _ => Scale::linear(values),
        }
    }

    /// Where `value` falls, clamped to the axis; the start for a value that is not a number.
    fn fraction(&self, value: f64) -> f64 {
        let position = match self.kind {
            Kind::Linear => value,
            Kind::Log if value > 0.0 => value.log10(),
            Kind::Log => self.low,
        };
        let fraction = (position - self.low) / (self.high - self.low);
        if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The values the axis labels, from its start to its end.
    fn ticks(&self) -> Vec<f64> {
        let intervals = ((self.high - self.low) / self.step).round() as usize;
        (0..=intervals)
            .map(|i| {
                let position = self.low + i as f64 * self.step;
                match self.kind {
                    Kind::Linear => position,
                    Kind::Log => 10f64.powi(position.round() as i32),
                }
            })
            .collect()
    }
}

/// A tick label: at most three significant digits, with k, M or G for thousands, millions
/// and billions.
fn tick_label(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = match magnitude {
        m if m >= 1e9 => (value / 1e9, "G"),
        m if m >= 1e6 => (value / 1e6, "M"),
        m if m >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = number(scaled).replace(',', "");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{suffix}")
}

/// An SVG document being drawn on the chart's fixed canvas (it scales with the page).
struct Canvas {
    svg: String,
}

impl Canvas {
    fn new(title: &str) -> Canvas {
        let title = escape(title);
        Canvas {
            svg: format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
                 role=\"img\" aria-label=\"{title}\">\n<title>{title}</title>\n"
            ),
        }
    }

    fn line(&mut self, from: (f64, f64), to: (f64, f64), colour: &str, dashed: bool) {
        let dash = if dashed {
            " stroke-dasharray=\"5 4\""
        } else {
            ""
        };
        self.svg.push_str(&format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"{dash}/>\n",
            from.0, from.1, to.0, to.1
        ));
    }

    /// Text at a point; `anchor` is `start`, `middle` or `end`.
    fn text(&mut self, at: (f64, f64), anchor: &str, text: &str) {
        self.svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{TEXT_COLOUR}\">{}</text>\n",
            at.0,
            at.1,
            escape(text)
        ));
    }

    /// The y axis: grid lines at the ticks, their labels, and the axis title along the side.
    fn y_axis(&mut self, scale: &Scale, title: &str) {
        for tick in scale.ticks() {
            let y = y_position(scale, tick);
            self.line((LEFT, y), (WIDTH - RIGHT, y), GRID_COLOUR, false);
            self.text((LEFT - 6.0, y + 4.0), "end", &tick_label(tick));
        }
        let middle = TOP + PLOT_HEIGHT / 2.0;
        self.svg.push_str(&format!(
            "<text x=\"16\" y=\"{middle:.1}\" text-anchor=\"middle\" fill=\"{TEXT_COLOUR}\" \
             transform=\"rotate(-90 16 {middle:.1})\">{}</text>\n",
            escape(title)
        ));
        let bottom = TOP + PLOT_HEIGHT;
        self.line((LEFT, TOP), (LEFT, bottom), AXIS_COLOUR, false);
        self.line((LEFT, bottom), (WIDTH - RIGHT, bottom), AXIS_COLOUR, false);
    }

    fn x_title(&mut self, title: &str) {
        self.text((LEFT + PLOT_WIDTH / 2.0, HEIGHT - 8.0), "middle", title);
    }

    /// A row of colour swatches and names above the plot.
    fn legend(&mut self, names: &[&str]) {
        let mut x = LEFT;
        for (i, name) in names.iter().enumerate() {
            self.svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"10\" width=\"12\" height=\"12\" fill=\"{}\"/>\n",
                colour(i)
            ));
            self.text((x + 16.0, 20.0), "start", name);
            x += 16.0 + LEGEND_CHAR_WIDTH * name.chars().count() as f64 + 18.0;
        }
    }

    fn no_data(&mut self) {
        self.text(
            (LEFT + PLOT_WIDTH / 2.0, TOP + PLOT_HEIGHT / 2.0),
            "middle",
            "no samples",
        );
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

fn colour(series: usize) -> &'static str {
    PALETTE[series % PALETTE.len()]
}

fn y_position(scale: &Scale, value: f64) -> f64 {
    TOP + PLOT_HEIGHT * (1.0 - scale.fraction(value))
}

fn x_position(scale: &Scale, value: f64) -> f64 {
    LEFT + PLOT_WIDTH * scale.fraction(value)
}

/// How a chart's value axis is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueAxis {
    /// Always linear from zero, for quantities compared by their size (rates).
    Linear,
    /// Log when the values span orders of magnitude (latencies, loss).
    Fitting,
}

impl ValueAxis {
    fn scale(self, values: &[f64]) -> Scale {
        match self {
            ValueAxis::Linear => Scale::linear(values),
            ValueAxis::Fitting => Scale::fitting(values),
        }
    }
}

/// One bar per category; a value that is not a number draws no bar.
pub struct Bars {
    pub name: String,
    pub values: Vec<f64>,
}

/// Groups of bars side by side, one group per category, one colour per series.
pub struct BarChart<'a> {
    pub title: &'a str,
    /// The value axis' title.
    pub value_label: &'a str,
    /// Unit of the values, shown when a bar is pointed at.
    pub unit: &'a str,
    pub categories: Vec<String>,
    pub series: Vec<Bars>,
}

pub fn bar_chart(chart: &BarChart) -> String {
    let values: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .collect();
    let scale = ValueAxis::Fitting.scale(&values);
    let mut canvas = Canvas::new(chart.title);
    canvas.y_axis(&scale, chart.value_label);
    let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
    canvas.legend(&names);
    if finite(&values).next().is_none() {
        canvas.no_data();
    }
    let group_width = PLOT_WIDTH / chart.categories.len().max(1) as f64;
    let bar_width = group_width * 0.8 / chart.series.len().max(1) as f64;
    let bottom = TOP + PLOT_HEIGHT;
    for (c, category) in chart.categories.iter().enumerate() {
        let group_start = LEFT + c as f64 * group_width + group_width * 0.1;
        for (s, series) in chart.series.iter().enumerate() {
            let Some(value) = series.values.get(c).copied().filter(|v| v.is_finite()) else {
                continue;
            };
            let top = y_position(&scale, value);
            canvas.svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
                 <title>{}</title></rect>\n",
                group_start + s as f64 * bar_width,
                (bar_width - 1.0).max(1.0),
                bottom - top,
                colour(s),
                escape(&format!(
                    "{}, {category}: {} {}",
                    series.name,
                    number(value),
                    chart.unit
                ))
            ));
        }
        canvas.text(
            (LEFT + (c as f64 + 0.5) * group_width, bottom + 16.0),
            "middle",
            category,
        );
    }
    canvas.finish()
}

/// Points joined in the order given; points with a coordinate that is not a number are left out.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Dashed: a reference drawn for comparison rather than a measurement.
    pub dashed: bool,
}

impl Line {
    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

/// A labelled horizontal line across the plot: a limit the values are read against.
pub struct Rule {
    pub value: f64,
    pub label: String,
}

/// Lines over a linear x axis.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    /// Labelled x ticks at these positions instead of round numbers: for an x axis whose
    /// values stand for something else (percentiles drawn by their nines).
    pub x_ticks: Vec<(f64, String)>,
    pub y_label: &'a str,
    pub y_axis: ValueAxis,
    pub lines: Vec<Line>,
    pub rules: Vec<Rule>,
}

pub fn line_chart(chart: &LineChart) -> String {
    let xs: Vec<f64> = chart
        .lines
        .iter()
        .flat_map(|line| line.finite_points().map(|p| p.0))
        .collect();
    let ys: Vec<f64> = chart
        .lines
        .iter()
        .flat_map(|line| line.finite_points().map(|p| p.1))
        .chain(chart.rules.iter().map(|r| r.value))
        .collect();
    let x_scale = Scale::linear(&xs);
    let y_scale = chart.y_axis.scale(&ys);
    let mut canvas = Canvas::new(chart.title);
    canvas.y_axis(&y_scale, chart.y_label);
    let bottom = TOP + PLOT_HEIGHT;
    let x_ticks = if chart.x_ticks.is_empty() {
        x_scale
            .ticks()
            .into_iter()
            .map(|tick| (tick, tick_label(tick)))
            .collect()
    } else {
        chart.x_ticks.clone()
    };
    for (tick, label) in &x_ticks {
        let x = x_position(&x_scale, *tick);
        canvas.line((x, bottom), (x, bottom + 5.0), AXIS_COLOUR, false);
        canvas.text((x, bottom + 18.0), "middle", label);
    }
    canvas.x_title(chart.x_label);
    let names: Vec<&str> = chart.lines.iter().map(|l| l.name.as_str()).collect();
    canvas.legend(&names);
    if xs.is_empty() {
        canvas.no_data();
    }
    for rule in &chart.rules {
        let y = y_position(&y_scale, rule.value);
        canvas.line((LEFT, y), (WIDTH - RIGHT, y), AXIS_COLOUR, true);
        canvas.text((WIDTH - RIGHT - 4.0, y - 4.0), "end", &rule.label);
    }
    // References first, so that the measurements they are compared with are drawn over them.
    let lines = chart.lines.iter().enumerate();
    let references = lines.clone().filter(|(_, line)| line.dashed);
    let measurements = lines.filter(|(_, line)| !line.dashed);
    for (i, line) in references.chain(measurements) {
        let at = |(x, y): (f64, f64)| (x_position(&x_scale, x), y_position(&y_scale, y));
        let path: Vec<String> = line
            .finite_points()
            .map(|point| {
                let (x, y) = at(point);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let dash = if line.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        canvas.svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\n",
            path.join(" "),
            colour(i)
        ));
        if line.dashed {
            continue;
        }
        for (x, y) in line.finite_points() {
            let (cx, cy) = at((x, y));
            canvas.svg.push_str(&format!(
                "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"{}\"><title>{}</title></circle>\n",
                colour(i),
                escape(&format!(
                    "{}: {} at {} {}",
                    line.name,
                    number(y),
                    number(x),
                    chart.x_label
                ))
            ));
        }
    }
    canvas.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::well_formed::assert_well_formed;

    fn assert_sane(scale: &Scale, values: &[f64]) {
        let ticks = scale.ticks();
        assert!(ticks.len() >= 2, "{scale:?}: {ticks:?}");
        assert!(ticks.iter().all(|t| t.is_finite()), "{ticks:?}");
        for value in values {
            let fraction = scale.fraction(*value);
            assert!((0.0..=1.0).contains(&fraction), "{value} -> {fraction}");
        }
    }

    #[test]
    fn scales_of_no_data_one_point_or_zeros_are_finite() {
        for values in [
            &[][..],
            &[0.0],
            &[0.0, 0.0],
            &[7.0],
            &[f64::NAN],
            &[f64::INFINITY, 3.0],
            &[-2.0, 0.0],
        ] {
            assert_sane(&Scale::linear(values), values);
            assert_sane(&Scale::fitting(values), values);
        }
        let one = Scale::linear(&[7.0]);
        assert_eq!(one.fraction(0.0), 0.0);
        assert!(one.fraction(7.0) > 0.5);
        assert_eq!(Scale::linear(&[f64::NAN]).fraction(f64::NAN), 0.0);
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_data() {
        let scale = Scale::linear(&[3.0, 47.0]);
        assert_eq!(scale.ticks(), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
        assert_eq!(scale.fraction(25.0), 0.5);
        assert_eq!(Scale::linear(&[0.0]).ticks().last(), Some(&1.0));
    }

    #[test]
    fn wide_data_gets_whole_decades() {
        let scale = Scale::fitting(&[0.0, 30.0, 30_000.0]);
        assert_eq!(
            scale.ticks(),
            vec![10.0, 100.0, 1_000.0, 10_000.0, 100_000.0]
        );
        assert!((scale.fraction(1_000.0) - 0.5).abs() < 1e-12);
        assert_eq!(scale.fraction(0.0), 0.0);
        let many_decades = Scale::fitting(&[0.001, 5e6]);
        let exponents: Vec<i32> = many_decades
            .ticks()
            .iter()
            .map(|t| t.log10().round() as i32)
            .collect();
        assert_eq!(exponents, vec![-4, -1, 2, 5, 8], "ends on a tick");
        assert_eq!(many_decades.fraction(1e8), 1.0);
        let near_a_decade = Scale::fitting(&[101.0, 2_351.0]);
        assert_eq!(near_a_decade.ticks(), vec![10.0, 100.0, 1_000.0, 10_000.0]);
        assert_eq!(
            Scale::fitting(&[10.0, 150.0]),
            Scale::linear(&[10.0, 150.0])
        );
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(0.1), "0.1");
        assert_eq!(tick_label(2_500.0), "2.5k");
        assert_eq!(tick_label(100_000.0), "100k");
        assert_eq!(tick_label(2_000_000.0), "2M");
        assert_eq!(tick_label(3e9), "3G");
    }

    #[test]
    fn bar_charts_are_well_formed_with_or_without_data() {
        let chart = BarChart {
            title: "latency <T4-T1>",
            value_label: "µs",
            unit: "µs",
            categories: vec!["p50".into(), "max & more".into()],
            series: vec![
                Bars {
                    name: "latency".into(),
                    values: vec![20.0, 4_000.0],
                },
                Bars {
                    name: "response".into(),
                    values: vec![f64::NAN],
                },
            ],
        };
        let svg = bar_chart(&chart);
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<rect").count(), 2 + 2, "two legend swatches");
        assert!(svg.contains("latency &lt;T4-T1&gt;"));
        assert!(svg.contains("max &amp; more"));
        let empty = bar_chart(&BarChart {
            categories: vec![],
            series: vec![],
            ..chart
        });
        assert_well_formed(&empty);
        assert!(empty.contains("no samples"));
    }

    #[test]
    fn line_charts_are_well_formed_from_zero_or_one_point() {
        for points in [vec![], vec![(0.0, 0.0)], vec![(1_000.0, 0.0)]] {
            let svg = line_chart(&LineChart {
                title: "loss",
                x_label: "offered/s",
                x_ticks: vec![],
                y_label: "loss %",
                y_axis: ValueAxis::Fitting,
                lines: vec![Line {
                    name: "loss".into(),
                    points: points.clone(),
                    dashed: false,
                }],
                rules: vec![Rule {
                    value: 1.0,
                    label: "stop > 1 %".into(),
                }],
            });
            assert_well_formed(&svg);
            assert_eq!(svg.matches("<circle").count(), points.len());
            assert!(svg.contains("stop &gt; 1 %"));
        }
    }
}
