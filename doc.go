// Package lobby is the public face of Lobby, a guest-access portal that a Go
// web application embeds as an http.Handler and middleware, or runs on its
// own through cmd/lobby.
//
// It owns the wiring and nothing else: [New] validates a [Config] and builds
// the mail transport with its token cache, the settings source that reads
// the admin's stored SMTP settings, the retry dispatcher, the notification
// renderer and the guest portal. [Lobby.Handler] serves them under any
// prefix; [Lobby.MountEcho] does the same for echo hosts; [Lobby.RequireGuest]
// and [Lobby.RequireGuestEcho] let only signed-in guests through to the host's
// own routes; [Lobby.Run] runs the background work. [OpenStore] opens the
// database, Postgres or the embedded SQLite file.
//
// Business rules live in the portal, notify and storage packages; this
// package holds none.
//
// A minimal host:
//
//	st, err := lobby.OpenStore(ctx, "data/lobby.db", key)
//	...
//	l, err := lobby.New(lobby.Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key})
//	...
//	go l.Run(ctx)
//	mux.Handle("/guest/", http.StripPrefix("/guest", l.Handler()))
//	mux.Handle("/wifi", l.RequireGuest(wifiPage))
package lobby
