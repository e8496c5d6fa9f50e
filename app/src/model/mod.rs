//! The page's pure logic, apart from rendering and tested without a browser.
//!
//! - [`charting`]: samples → chart descriptions (shared with the server's exports).
//! - [`runs`]: the runs table's rows, durations and rates, and the items-per-second tile.
//! - [`timeline`]: the scaling decisions, newest first.
//! - [`input`]: checking what people type in the start form and the settings.
//! - [`replay`]: the replay's banner and position; [`cursor`]: a replay's position, speed and
//!   pause (the server's player and a recording opened in the page both use it).
//! - [`format`]: numbers, times and ids as the page writes them.
//! - [`whatif`]: the what-if lab's policy forms and the address that shares them.

pub mod charting;
pub mod cursor;
pub mod format;
pub mod input;
pub mod replay;
pub mod runs;
pub mod timeline;
pub mod whatif;
