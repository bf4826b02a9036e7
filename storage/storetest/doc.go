// Package storetest is the conformance suite every storage backend must
// pass: one set of tests, run by storage/sqlite and storage/postgres against
// a fresh database each, and one set of benchmarks.
//
// A backend's test calls Run with a Backend that makes fresh databases and
// opens Stores on them (two Stores on one database model two processes), and
// a Raw hook that reads sealed columns as they sit on disk:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{
//			Name: "sqlite",
//			New: func(t *testing.T) func(storage.Options) (storage.Store, error) {
//				path := filepath.Join(t.TempDir(), "lobby.db")
//				return func(o storage.Options) (storage.Store, error) {
//					s, err := sqlite.Open(context.Background(), path, o)
//					if err != nil {
//						return nil, err // not a nil *sqlite.Store in the interface
//					}
//					return s, nil
//				}
//			},
//			Raw:              raw, // SQL straight to the database, as bytes
//			LeaderTTLApplies: true,
//		})
//	}
//
// Every test injects its own clock through Options.Now and advances it: no
// test sleeps. Test output never shows a secret value.
package storetest
