extends "res://tests/lib/test_case.gd"
# Runs the multiplayer demo: the lobby server (res://demo/lobby.tscn, gdws in multiplayer mode)
# in its own headless Godot process, and three stock multiplayer clients (demo/lobby_client.gd),
# each in its own process, scripted with --do actions. They join as Alice, Bob and Alice again
# (renamed Alice2), chat, Bob whispers to Alice (client to client through the server), and they
# leave one by one; the lobby quits when all three have left (--quit-after=3). Checks what each
# client logged, and that the lobby's port is free at the end.

const LOBBY_CLIENT = "res://demo/lobby_client.gd"



func run():
	var args = ["res://demo/lobby.tscn", "--port=%d" % port, "--quit-after=3"]
	if builtin:
		args.append("--builtin")
	start_demo(args)

	# One after the other, so that the join order (and each player list) is known.
	var alice = spawn_lobby_client("Alice", ["players:3", "say:hello from Alice", "wait:psst",
			"wait:[Bob] hi", "say:bye Bob", "wait:* Bob left", "wait:* Alice2 left", "quit"])
	yield(client_find(alice, "joined", 15.0), "completed")
	var bob = spawn_lobby_client("Bob", ["players:3", "whisper:Alice:psst", "say:hi",
			"wait:[Alice] bye Bob", "quit"])
	yield(client_find(bob, "joined"), "completed")
	var alice2 = spawn_lobby_client("Alice", ["players:3", "wait:[Alice] bye Bob", "wait:* Bob left",
			"quit"])
	yield(client_find(alice2, "joined"), "completed")

	for c in [alice, bob, alice2]:
		check_eq(yield(client_find(c, "exit", 15.0), "completed"), ["exit", 0], "a client leaves when done")

	check_eq(players_seen(alice), [["Alice"], ["Alice", "Bob"], ["Alice", "Alice2", "Bob"],
			["Alice", "Alice2"], ["Alice"]], "Alice's player lists")
	check_eq(players_seen(bob), [["Alice", "Bob"], ["Alice", "Alice2", "Bob"]], "Bob's player lists")
	check_eq(players_seen(alice2)[0], ["Alice", "Alice2", "Bob"], "the second Alice is Alice2")

	var a = lines(alice)
	var b = lines(bob)
	var a2 = lines(alice2)
	for line in ["* Alice joined", "* Bob joined", "* Alice2 joined", "[Alice] hello from Alice",
			"[Bob] hi", "[Alice] bye Bob", "* Bob left", "* Alice2 left"]:
		check(line in a, "Alice saw %s" % to_json(line))
	for line in ["* Bob joined", "* Alice2 joined", "[Alice] hello from Alice", "[Bob] hi", "[Alice] bye Bob"]:
		check(line in b, "Bob saw %s" % to_json(line))
	for line in ["* Alice2 joined", "[Alice] hello from Alice", "[Bob] hi", "[Alice] bye Bob", "* Bob left"]:
		check(line in a2, "Alice2 saw %s" % to_json(line))
	check("(whisper) Bob: psst" in a, "Alice got Bob's whisper")
	check(not "(whisper) Bob: psst" in b and not "(whisper) Bob: psst" in a2, "only Alice got it")
	check(not "* Alice joined" in b, "Bob joined after Alice")

	yield(wait_demo_quit(port, "the lobby to quit and free its port"), "completed")


# Starts demo/lobby_client.gd joining as `name`, with its log in a ClientProc handle.
func spawn_lobby_client(name: String, actions: Array):
	var args = ["--port=%d" % port, "--name=" + name]
	for action in actions:
		args.append("--do=" + action)
	return spawn_script(LOBBY_CLIENT, args)


# The player lists the client logged, in order.
func players_seen(client) -> Array:
	var out := []
	while client.has_named("players"):
		out.append(client.take_named("players")[1])
	return out


func lines(client) -> Array:
	var out := []
	while client.has_named("line"):
		out.append(client.take_named("line")[1])
	return out
