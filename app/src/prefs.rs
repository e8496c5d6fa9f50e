//! The presenter's choices: theme, presenter mode and chart window, kept in `localStorage`.
//!
//! A small script in the document's `<head>` ([`HEAD_SCRIPT`]) applies the stored theme and
//! mode to `<html>` before the first paint, so a light-theme page never flashes dark while the
//! wasm loads. Once hydrated, [`Prefs::load`] brings the signals in line; toggles write both
//! the attribute and the store.

use leptos::prelude::*;

const THEME_KEY: &str = "scaleboard.theme";
const PRESENTER_KEY: &str = "scaleboard.presenter";
const WINDOW_KEY: &str = "scaleboard.window";

/// Runs before the body is parsed; must not fail when storage is blocked.
pub const HEAD_SCRIPT: &str = "try{var s=window.localStorage,d=document.documentElement;\
d.setAttribute('data-theme',s.getItem('scaleboard.theme')==='light'?'light':'dark');\
d.setAttribute('data-presenter',s.getItem('scaleboard.presenter')==='on'?'on':'off')}catch(e){}";

/// The chart windows offered, in minutes.
pub const WINDOWS: [u64; 4] = [1, 5, 15, 60];

/// The preferences, shared by every component. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Prefs {
    pub dark: RwSignal<bool>,
    pub presenter: RwSignal<bool>,
    /// Minutes of history the dashboard's charts show.
    pub window_mins: RwSignal<u64>,
    /// Bumped when the window is resized, so charts refit their canvases.
    pub resized: RwSignal<u32>,
}

impl Prefs {
    /// The defaults, as the server renders them.
    pub fn new() -> Prefs {
        Prefs {
            dark: RwSignal::new(true),
            presenter: RwSignal::new(false),
            window_mins: RwSignal::new(5),
            resized: RwSignal::new(0),
        }
    }

    /// Reads the stored choices (in the browser, after hydration).
    pub fn load(&self) {
        self.dark.set(stored(THEME_KEY).as_deref() != Some("light"));
        self.presenter
            .set(stored(PRESENTER_KEY).as_deref() == Some("on"));
        if let Some(minutes) = stored(WINDOW_KEY)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|m| WINDOWS.contains(m))
        {
            self.window_mins.set(minutes);
        }
    }

    pub fn set_dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        apply("data-theme", value);
        store(THEME_KEY, value);
        self.dark.set(dark);
    }

    pub fn set_presenter(&self, on: bool) {
        let value = if on { "on" } else { "off" };
        apply("data-presenter", value);
        store(PRESENTER_KEY, value);
        self.presenter.set(on);
    }

    pub fn set_window(&self, minutes: u64) {
        store(WINDOW_KEY, &minutes.to_string());
        self.window_mins.set(minutes);
    }
}

impl Default for Prefs {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "hydrate")]
fn stored(key: &str) -> Option<String> {
    web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(key)
        .ok()?
}

#[cfg(feature = "hydrate")]
fn store(key: &str, value: &str) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        // A full or blocked store only means the choice is not remembered.
        let _ = storage.set_item(key, value);
    }
}

/// Sets the attribute on `<html>` first, so the CSS has changed by the time the charts
/// measure their canvases for the redraw the signal triggers.
#[cfg(feature = "hydrate")]
fn apply(attribute: &str, value: &str) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute(attribute, value);
    }
}

#[cfg(not(feature = "hydrate"))]
fn stored(_key: &str) -> Option<String> {
    None
}

#[cfg(not(feature = "hydrate"))]
fn store(_key: &str, _value: &str) {}

#[cfg(not(feature = "hydrate"))]
fn apply(_attribute: &str, _value: &str) {}
