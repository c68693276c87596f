// Package perfetto serves a trace file on 127.0.0.1 together with the small page
// that hands it to Perfetto UI (ui.perfetto.dev), and the UI's ?url= deep link.
package perfetto
