//! The first-paint line both apps print and the window benchmark reads:
//! `first-paint-ms <N> page-ms <P>`. N is the time from process start to
//! the report, by [`since_start`](crate::since_start); P the page's own
//! `performance.now()` when it reported (its time since navigation start),
//! so N - P is the time before the page started.

use std::fmt;
use std::str::FromStr;

/// One first-paint report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstPaint {
    /// Process start to the report, in ms.
    pub since_start_ms: u64,
    /// The page's start to its report, in ms, when the page said and the
    /// figure is plausible (finite, not negative, not over `since_start_ms`).
    pub in_page_ms: Option<u64>,
}

impl FirstPaint {
    /// Now, with the page's `performance.now()` as it reported it.
    pub fn now(page_ms: Option<f64>) -> Self {
        Self::new(crate::millis_since_start(), page_ms)
    }

    fn new(since_start_ms: u64, page_ms: Option<f64>) -> Self {
        // A page cannot have started before its process; anything else is
        // a bad report and is left out rather than trusted.
        let in_page_ms = page_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms <= since_start_ms as f64)
            .map(|ms| ms.round() as u64);
        Self {
            since_start_ms,
            in_page_ms,
        }
    }

    /// Process start to the page's start, when the page said.
    pub fn before_page_ms(&self) -> Option<u64> {
        self.in_page_ms.map(|p| self.since_start_ms - p)
    }
}

impl fmt::Display for FirstPaint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "first-paint-ms {}", self.since_start_ms)?;
        if let Some(page) = self.in_page_ms {
            write!(f, " page-ms {page}")?;
        }
        Ok(())
    }
}

/// A line that is not a first-paint report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAReport(pub String);

impl fmt::Display for NotAReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a first-paint line: {:?}", self.0)
    }
}

impl std::error::Error for NotAReport {}

impl FromStr for FirstPaint {
    type Err = NotAReport;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let bad = || NotAReport(line.to_string());
        let mut words = line.split_whitespace();
        if words.next() != Some("first-paint-ms") {
            return Err(bad());
        }
        let since_start_ms = words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let in_page_ms = match (words.next(), words.next()) {
            (None, _) => None,
            (Some("page-ms"), Some(p)) => Some(p.parse::<u64>().map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        if words.next().is_some() || in_page_ms.is_some_and(|p| p > since_start_ms) {
            return Err(bad());
        }
        Ok(Self {
            since_start_ms,
            in_page_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_printed() {
        let report = FirstPaint::new(358, Some(84.4));
        assert_eq!(report.to_string(), "first-paint-ms 358 page-ms 84");
        assert_eq!("first-paint-ms 358 page-ms 84".parse(), Ok(report));
        assert_eq!(report.before_page_ms(), Some(274));
    }

    #[test]
    fn the_page_figure_is_optional() {
        let report = FirstPaint::new(300, None);
        assert_eq!(report.to_string(), "first-paint-ms 300");
        assert_eq!("first-paint-ms 300".parse(), Ok(report));
        assert_eq!(report.before_page_ms(), None);
    }

    #[test]
    fn an_implausible_page_figure_is_left_out() {
        for bad in [f64::NAN, f64::INFINITY, -1.0, 301.0] {
            assert_eq!(FirstPaint::new(300, Some(bad)).in_page_ms, None, "{bad}");
        }
    }

    #[test]
    fn other_lines_are_refused() {
        for line in [
            "",
            "first-paint-ms",
            "first-paint-ms x",
            "first-paint-ms 300 page-ms",
            "first-paint-ms 300 page-ms 301",
            "first-paint-ms 300 page-ms 20 more",
            "marks 300",
        ] {
            assert!(line.parse::<FirstPaint>().is_err(), "{line:?}");
        }
    }
}
