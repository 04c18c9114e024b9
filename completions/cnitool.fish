# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cnitool_global_optspecs
    string join \n netconf-dir= plugin-dir= cache-dir= sync-cache netns-dir= timeout= o/output= trace= v/verbose q/quiet h/help V/version
end

function __fish_cnitool_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cnitool_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cnitool_using_subcommand
    set -l cmd (__fish_cnitool_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cnitool -n "__fish_cnitool_needs_command" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_needs_command" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_needs_command" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_needs_command" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_needs_command" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_needs_command" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_needs_command" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_needs_command" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_needs_command" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_needs_command" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_needs_command" -s V -l version -d 'Print version'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "add" -d 'Attach a container\'s network namespace to a network (CNI ADD)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "check" -d 'Check an attachment (CNI CHECK)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "del" -d 'Detach a container from a network (CNI DEL)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "gc" -d 'Remove stale attachments whose namespace is gone (CNI GC)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "status" -d 'Ask a network\'s plugins whether they are ready (CNI STATUS)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "list" -d 'List every network in the config directories (and the built-in one)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "ls" -d 'List every network in the config directories (and the built-in one)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "show" -d 'Show a network list exactly as it will be used, as JSON (the file it came from on stderr; with -o json, both in one document)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "validate" -d 'Check netconfs against the installed plugins, the reference plugins\' rules and this host (exit 3 on any error)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "doctor" -d 'Check the host the networks run on (read-only; exit 3 on any FAIL)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "smoke" -d 'Prove that networks work end to end and leave nothing behind (exit 3 on any failed check)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "version" -d 'Show the tool\'s version, the spec versions and (--plugins) the plugins\' versions'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "attachments" -d 'Show what the cache says is attached'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "names" -d 'The names of the live runs on each network (`run --name`, `--alias`) and their addresses'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "netns" -d 'Persistent named network namespaces (iproute2-compatible)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "run" -d 'Run a command on CNI networks in a private network namespace, then clean up'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "container" -d 'Put docker or podman containers on CNI networks (run, attach, detach)'
complete -c cnitool -n "__fish_cnitool_needs_command" -f -a "rootless" -d 'The shared rootless network namespace of `run` for unprivileged users'
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -s i -l ifname -d 'Interface name inside the namespace' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l pid -d 'Use the network namespace of this running process' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l container-id -d 'Container ID (default: derived from the namespace path, as the Go cnitool does)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l arg -d 'Plugin argument K=V, added to CNI_ARGS (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l cap -d 'Capability argument NAME=JSON or NAME=@FILE (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -s p -l publish -d 'Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l ip -d 'Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l mac -d 'Request a MAC address (mac capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l dns -d 'DNS server for the container (dns capability; repeatable; `run` and `container run` write it into the command\'s or container\'s resolv.conf, whether or not a plugin takes it)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l dns-search -d 'DNS search domain for the container (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l dns-option -d 'DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l result-version -d 'Print the result converted to this CNI version' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l name -d 'Name the namespace on the network (a named namespace only): runs and named namespaces on the network resolve NAME and NAME.NETWORK to its addresses there, and it sees theirs through /etc/netns/NETNS/hosts (which `ip netns exec` and `cnitool netns exec` put over /etc/hosts), until `del`. RFC 1123 label' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l alias -d 'Another name, like --name (repeatable; needs --name)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -l dry-run -d 'Print each plugin\'s CNI_* environment and exact stdin, in order; run nothing'
complete -c cnitool -n "__fish_cnitool_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -s i -l ifname -d 'Interface name inside the namespace' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l pid -d 'Use the network namespace of this running process' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l container-id -d 'Container ID (default: derived from the namespace path, as the Go cnitool does)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l arg -d 'Plugin argument K=V, added to CNI_ARGS (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l cap -d 'Capability argument NAME=JSON or NAME=@FILE (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -s p -l publish -d 'Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l ip -d 'Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l mac -d 'Request a MAC address (mac capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l dns -d 'DNS server for the container (dns capability; repeatable; `run` and `container run` write it into the command\'s or container\'s resolv.conf, whether or not a plugin takes it)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l dns-search -d 'DNS search domain for the container (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l dns-option -d 'DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l dry-run -d 'Print each plugin\'s CNI_* environment and exact stdin, in order; run nothing'
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -l current-config -d 'Use the netconf files, not the configuration recorded at ADD'
complete -c cnitool -n "__fish_cnitool_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -s i -l ifname -d 'Interface name inside the namespace' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l pid -d 'Use the network namespace of this running process' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l container-id -d 'Container ID (default: derived from the namespace path, as the Go cnitool does)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l arg -d 'Plugin argument K=V, added to CNI_ARGS (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l cap -d 'Capability argument NAME=JSON or NAME=@FILE (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -s p -l publish -d 'Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l ip -d 'Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l mac -d 'Request a MAC address (mac capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l dns -d 'DNS server for the container (dns capability; repeatable; `run` and `container run` write it into the command\'s or container\'s resolv.conf, whether or not a plugin takes it)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l dns-search -d 'DNS search domain for the container (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l dns-option -d 'DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l dry-run -d 'Print each plugin\'s CNI_* environment and exact stdin, in order; run nothing'
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -l current-config -d 'Use the netconf files, not the configuration recorded at ADD'
complete -c cnitool -n "__fish_cnitool_using_subcommand del" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -l dry-run -d 'Show what would be removed; remove nothing'
complete -c cnitool -n "__fish_cnitool_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l junit -d 'Also write the findings as a JUnit XML report to FILE (one test case per network)' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l strict -d 'Fail (exit 3) on warnings too, not only on errors'
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -l no-host-checks -d 'Skip the checks against this host (interfaces, routes, the dhcp daemon\'s socket, sysctls): for netconfs meant for another machine'
complete -c cnitool -n "__fish_cnitool_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l strict -d 'Exit 3 on a warning too, not only on a failure'
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -l rootless -d 'Also run the checks of rootless mode (user namespaces, /dev/net/tun, slirp4netns or pasta, XDG_RUNTIME_DIR); they run anyway when not root'
complete -c cnitool -n "__fish_cnitool_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l net -d 'A network to test (repeatable; default: every network in the config directories)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l junit -d 'Also write the checks as a JUnit XML report to FILE' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -l expect-isolated -d 'Networks given together must not reach each other (else that is only reported)'
complete -c cnitool -n "__fish_cnitool_using_subcommand smoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -l plugins -d 'Also ask every executable in the plugin directories which spec versions it supports (2 s each at most; files that do not answer as CNI plugins are listed as such)'
complete -c cnitool -n "__fish_cnitool_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l netns -d 'Only attachments of this network namespace (a name in the netns directory, or a path with a `/`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l net -d 'Only attachments of this network' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand attachments" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand names" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -f -a "create" -d 'Create a named network namespace (like `ip netns add`), optionally attached to networks'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -f -a "exec" -d 'Run a command in a named network namespace (like `ip netns exec`)'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -f -a "list" -d 'List the named network namespaces with their networks and processes'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -f -a "ls" -d 'List the named network namespaces with their networks and processes'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -f -a "delete" -d 'Delete named network namespaces (like `ip netns delete`)'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and not __fish_seen_subcommand_from create exec list ls delete del" -f -a "del" -d 'Delete named network namespaces (like `ip netns delete`)'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l attach -d 'Attach this network (CNI ADD) as eth0, the next as eth1, ... (repeatable). If an ADD fails, the networks added so far are deleted and so is the namespace' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -l no-lo -d 'Leave the loopback interface down (as `ip netns add` does)'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l dns -d 'DNS server for the command\'s resolv.conf, replacing the others (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l dns-search -d 'DNS search domain for the command\'s resolv.conf, replacing the others (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l dns-option -d 'Resolver option for the command\'s resolv.conf, replacing the others (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l add-host -d 'Add a line to the command\'s /etc/hosts: NAME:IP (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -s f -l force -d 'DEL the attached networks first (last added first); a missing namespace is no error'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -s f -l force -d 'DEL the attached networks first (last added first); a missing namespace is no error'
complete -c cnitool -n "__fish_cnitool_using_subcommand netns; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l net -d 'A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0, eth1, ... by default). Without --net and without any netconf, the built-in network "cnitool" is used (bridge cnitool0 on the first of 10.231.0.0/24 .. 10.231.15.0/24 that no route of the host overlaps)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l netns -d 'Join this existing named network namespace instead of creating one; it is left in place and only the networks this run added are removed. Interface names it already has are refused' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l hostname -d 'The command\'s hostname (in a UTS namespace of its own; default: --name). It resolves inside the run, to the run\'s addresses' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l name -d 'Name the run: while it runs, every other run (as root) on its networks resolves NAME and NAME.NETWORK to its addresses there, through the hosts file each run gets over /etc/hosts; the name goes when the run ends. A name held by a live run on the same network is refused. Without --name a run is not named. RFC 1123 label (letters, digits, hyphens; 1 to 63). Rootless, names are shared by your rootless runs' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l alias -d 'Another name of the run, like --name (repeatable; needs --name)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l add-host -d 'Add a line to the command\'s /etc/hosts: NAME:IP (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l arg -d 'Plugin argument K=V, added to CNI_ARGS (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l cap -d 'Capability argument NAME=JSON or NAME=@FILE (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -s p -l publish -d 'Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l ip -d 'Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l mac -d 'Request a MAC address (mac capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l dns -d 'DNS server for the container (dns capability; repeatable; `run` and `container run` write it into the command\'s or container\'s resolv.conf, whether or not a plugin takes it)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l dns-search -d 'DNS search domain for the container (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l dns-option -d 'DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l uplink -d 'Rootless uplink helper (auto: slirp4netns if installed, else pasta)' -r -f -a "auto\t'slirp4netns if installed, else pasta'
slirp4netns\t'slirp4netns (default): ready-fd, exit-fd, API socket for port forwards'
pasta\t'pasta (passt): published ports (-p) only with --rootless-netns private'"
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l rootless-netns -d 'Rootless: the namespace the run\'s networks live in, shared by your rootless runs or private to this run' -r -f -a "shared\t'Shared by all your rootless runs (they reach each other): joined, or started by the first run and ended after the last'
private\t'The run\'s own, with its own holder and uplink, started for it and ended with it: slower to start, reached by no other run; -p works with --uplink pasta only here'"
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l dry-run -d 'Print each network\'s plugin calls (CNI_* environment and exact stdin) and run nothing'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l rootless -d 'Run rootless even as root (implied when not root): the networks live in a user namespace shared by your runs (see --rootless-netns), with slirp4netns or pasta as the uplink'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l allow-host-loopback -d 'Rootless: let the command reach the host\'s loopback as 10.0.2.2'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -l require-uplink -d 'Rootless: if the rootless namespace\'s uplink or holder dies while the command runs, end the command (SIGTERM, then SIGKILL 10 s later) and exit with 124'
complete -c cnitool -n "__fish_cnitool_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -f -a "run" -d 'Run a container in the foreground on CNI networks, then tear them down'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -f -a "attach" -d 'Attach a running container to CNI networks until `detach` (or `gc` once it is gone)'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and not __fish_seen_subcommand_from run attach detach" -f -a "detach" -d 'Detach a container that `attach` put on CNI networks'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l engine -d 'The container engine' -r -f -a "docker\t'Docker: joins the networks through a pause container (`--network container:ID`)'
podman\t'Podman: joins the named network namespace by path (`--network ns:PATH`)'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l engine-bin -d 'The engine\'s client (default: docker or podman, found in PATH)' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l engine-opt -d 'A global option for every engine call, one argument each (repeatable), e.g. --engine-opt=-H --engine-opt=unix:///run/other.sock, or --engine-opt=--root=/srv/c' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l net -d 'A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0, eth1, ... by default). Without --net and without any netconf, the built-in network "cnitool" is used' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l pause-image -d 'docker: the image of the pause container that holds the network namespace. It must be present locally (it is never pulled) and have `sleep`' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l stop-timeout -d 'Seconds to wait, after passing a signal to the container, before killing it' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l name -d 'Name the container on its networks, as `cnitool run --name` does (this is not the engine\'s --name, which goes after --): runs, named namespaces and containers on them resolve NAME and NAME.NETWORK to its addresses while it runs. With --name or --add-host the container gets a hosts file of cnitool\'s, mounted over its /etc/hosts (the engine\'s own, with its --add-host and --hostname entries, is not used then), showing the names on its networks, kept current while it runs' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l alias -d 'Another name, like --name (repeatable; needs --name)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l add-host -d 'Add a line to the container\'s /etc/hosts (cnitool\'s hosts file): NAME:IP (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l arg -d 'Plugin argument K=V, added to CNI_ARGS (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l cap -d 'Capability argument NAME=JSON or NAME=@FILE (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -s p -l publish -d 'Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l ip -d 'Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l mac -d 'Request a MAC address (mac capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l dns -d 'DNS server for the container (dns capability; repeatable; `run` and `container run` write it into the command\'s or container\'s resolv.conf, whether or not a plugin takes it)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l dns-search -d 'DNS search domain for the container (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l dns-option -d 'DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l engine -d 'The container engine' -r -f -a "docker\t'Docker: joins the networks through a pause container (`--network container:ID`)'
podman\t'Podman: joins the named network namespace by path (`--network ns:PATH`)'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l engine-bin -d 'The engine\'s client (default: docker or podman, found in PATH)' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l engine-opt -d 'A global option for every engine call, one argument each (repeatable), e.g. --engine-opt=-H --engine-opt=unix:///run/other.sock, or --engine-opt=--root=/srv/c' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l net -d 'A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0, eth1, ... by default: name them when the container has interfaces of its own)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l name -d 'Name the container on its networks, as `cnitool run --name` does: runs, named namespaces and containers on them resolve NAME and NAME.NETWORK to its addresses until it is detached or stops. With --name or --add-host, the engine\'s /etc/hosts of the container gets, after its own lines, the --add-host entries and the names on its networks, kept current in place; `detach` leaves only the engine\'s lines. The file must be writable (not mounted read-only)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l alias -d 'Another name, like --name (repeatable; needs --name)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l add-host -d 'Add a line to the container\'s /etc/hosts: NAME:IP (repeatable; removed by detach)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l arg -d 'Plugin argument K=V, added to CNI_ARGS (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l cap -d 'Capability argument NAME=JSON or NAME=@FILE (repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -s p -l publish -d 'Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l ip -d 'Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l mac -d 'Request a MAC address (mac capability)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l dns -d 'DNS server for the container (dns capability; repeatable; `run` and `container run` write it into the command\'s or container\'s resolv.conf, whether or not a plugin takes it)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l dns-search -d 'DNS search domain for the container (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l dns-option -d 'DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as --dns in `run` and `container run`)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from attach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l engine -d 'The container engine' -r -f -a "docker\t'Docker: joins the networks through a pause container (`--network container:ID`)'
podman\t'Podman: joins the named network namespace by path (`--network ns:PATH`)'"
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l engine-bin -d 'The engine\'s client (default: docker or podman, found in PATH)' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l engine-opt -d 'A global option for every engine call, one argument each (repeatable), e.g. --engine-opt=-H --engine-opt=unix:///run/other.sock, or --engine-opt=--root=/srv/c' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand container; and __fish_seen_subcommand_from detach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -f -a "status" -d 'Show the shared rootless namespace, its uplink and its live runs'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and not __fish_seen_subcommand_from status stop" -f -a "stop" -d 'Tear the shared rootless namespace down (refused while runs are live)'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l netconf-dir -d 'Netconf directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l plugin-dir -d 'Plugin directories, searched in order (\':\'-separated)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l cache-dir -d 'Result cache directory' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l netns-dir -d 'Directory of named network namespaces' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l timeout -d 'Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none)' -r
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -s o -l output -d 'Output format' -r -f -a "json\t'JSON (ADD prints the CNI result, as the Go cnitool)'
table\t'A human-readable table'
none\t'Nothing on stdout'"
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l trace -d 'Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit status, duration) to FILE, to share or replay a failure' -r -F
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l sync-cache -d 'Flush every cache and record write to disk (fsync) before going on. Without it writes are atomic and their write-back is started, not waited for'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -s v -l verbose -d 'Show each plugin call and its duration on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -s q -l quiet -d 'Print nothing but errors on stderr'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -l force -d 'Tear down even with live runs: each is ended first, as by a SIGTERM to its runner (its command gets SIGTERM, the run is undone, the runner exits with the command\'s status)'
complete -c cnitool -n "__fish_cnitool_using_subcommand rootless; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help (see more with \'--help\')'

complete -c cnitool -n "__fish_seen_subcommand_from add del check status show validate gc" -f -a "(cnitool list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from run" -l net -f -a "(cnitool list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from add del check" -a "(cnitool netns list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from run" -l netns -f -a "(cnitool netns list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from delete exec; and __fish_seen_subcommand_from netns" -f -a "(cnitool netns list --names 2>/dev/null)"
