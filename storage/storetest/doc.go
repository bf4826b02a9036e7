// Package storetest is the conformance suite every storage backend must
// pass: one set of tests, run by storage/sqlite and storage/postgres against
// a fresh database each, and one set of benchmarks.
//
// A backend's test calls Run with a Backend that makes fresh databases and
// opens Stores on them (two Stores on one database model two processes), and
// a Raw hook that reads sealed columns as they sit on disk.
package storetest
