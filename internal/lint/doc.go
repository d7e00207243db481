// Package lint holds tests that keep the code base in the shape DESIGN.md describes: imports
// only go down the layer table, the standalone packages import nothing of ours, and test
// helpers stay out of production code. It has no exported API.
package lint
