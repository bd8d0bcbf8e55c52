"""Redis's command table as ACLs see it: each command's categories and where its keys
and channels are, with the permission each key needs.

Source: the ``acl_categories`` and key specs that ``COMMAND INFO`` reports in Redis 7.2
(src/commands/*.json of the Redis repository): a command is in ``@read``/``@write``/
``@admin``/``@pubsub``/``@fast``/``@blocking`` by its flags, in ``@dangerous`` with
``@admin`` or by its own category list, and ``@slow`` when it is not fast. A key needs
read permission (``R``) when its key spec has ACCESS, write (``W``) with INSERT, DELETE
or UPDATE, and either one (``-``) with neither, as ``ACLSelectorCheckKey`` decides.

The table covers the commands the RESP endpoint serves (issue 18) and the rest of
Redis's data and admin commands, so an access string written for ElastiCache (``-setbit
-geoadd``) parses; a name in no row is an unknown command, refused as Redis refuses it.

Row format: ``name  categories  keys  channels``; ``-`` for none. Keys are
``<where>:<permission>`` items: ``N`` one argument, ``N..M`` a range (M < 0 counts from
the end, ``/S`` a step), ``#N`` a key count at argument N with the keys after it,
``STREAMS`` the first half of the arguments after the STREAMS keyword. Channels use the
same positions; ``p:`` marks PSUBSCRIBE's patterns (matched literally, not as globs).
Arguments are numbered from the command name (0), subcommand names (``client|kill``)
included, as COMMAND INFO numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)

_TABLE = """
# -- strings
get                 read,string,fast                 1:R
set                 write,string,slow                1:W
setnx               write,string,fast                1:W
setex               write,string,slow                1:W
psetex              write,string,slow                1:W
getset              write,string,fast                1:RW
mget                read,string,fast                 1..-1:R
mset                write,string,slow                1..-1/2:W
msetnx              write,string,slow                1..-1/2:W
getdel              write,string,fast                1:RW
getex               write,string,fast                1:RW
getrange            read,string,slow                 1:R
substr              read,string,slow                 1:R
setrange            write,string,slow                1:W
append              write,string,fast                1:W
strlen              read,string,fast                 1:-
incr                write,string,fast                1:RW
decr                write,string,fast                1:RW
incrby              write,string,fast                1:RW
decrby              write,string,fast                1:RW
incrbyfloat         write,string,fast                1:RW
lcs                 read,string,slow                 1..2:R
# -- keys, databases
del                 keyspace,write,slow              1..-1:W
unlink              keyspace,write,fast              1..-1:W
exists              keyspace,read,fast               1..-1:-
touch               keyspace,read,fast               1..-1:-
type                keyspace,read,fast               1:-
expire              keyspace,write,fast              1:W
pexpire             keyspace,write,fast              1:W
expireat            keyspace,write,fast              1:W
pexpireat           keyspace,write,fast              1:W
expiretime          keyspace,read,fast               1:-
pexpiretime         keyspace,read,fast               1:-
ttl                 keyspace,read,fast               1:-
pttl                keyspace,read,fast               1:-
persist             keyspace,write,fast              1:W
rename              keyspace,write,slow              1:RW 2:W
renamenx            keyspace,write,fast              1:RW 2:W
copy                keyspace,write,slow              1:R 2:W
move                keyspace,write,fast              1:RW
dump                keyspace,read,slow               1:R
restore             keyspace,write,slow,dangerous    1:W
keys                keyspace,read,slow,dangerous     -
scan                keyspace,read,slow               -
randomkey           keyspace,read,slow               -
dbsize              keyspace,read,fast               -
flushdb             keyspace,write,slow,dangerous    -
flushall            keyspace,write,slow,dangerous    -
swapdb              keyspace,write,fast,dangerous    -
select              fast,connection                  -
sort                write,set,sortedset,list,slow,dangerous  1:R
sort_ro             read,set,sortedset,list,slow,dangerous   1:R
migrate             keyspace,write,slow,dangerous    -
wait                slow                             -
waitaof             slow                             -
object|encoding     keyspace,read,slow               2:-
object|freq         keyspace,read,slow               2:-
object|idletime     keyspace,read,slow               2:-
object|refcount     keyspace,read,slow               2:-
object|help         keyspace,slow                    -
# -- hashes
hset                write,hash,fast                  1:W
hsetnx              write,hash,fast                  1:W
hmset               write,hash,fast                  1:W
hget                read,hash,fast                   1:R
hmget               read,hash,fast                   1:R
hgetall             read,hash,slow                   1:R
hdel                write,hash,fast                  1:W
hexists             read,hash,fast                   1:-
hlen                read,hash,fast                   1:-
hstrlen             read,hash,fast                   1:-
hkeys               read,hash,slow                   1:R
hvals               read,hash,slow                   1:R
hincrby             write,hash,fast                  1:RW
hincrbyfloat        write,hash,fast                  1:RW
hscan               read,hash,slow                   1:R
hrandfield          read,hash,slow                   1:R
# -- lists
lpush               write,list,fast                  1:W
rpush               write,list,fast                  1:W
lpushx              write,list,fast                  1:W
rpushx              write,list,fast                  1:W
lpop                write,list,fast                  1:RW
rpop                write,list,fast                  1:RW
llen                read,list,fast                   1:-
lrange              read,list,slow                   1:R
lindex              read,list,slow                   1:R
lpos                read,list,slow                   1:R
lset                write,list,slow                  1:W
lrem                write,list,slow                  1:W
ltrim               write,list,slow                  1:W
linsert             write,list,slow                  1:W
lmove               write,list,slow                  1:RW 2:W
rpoplpush           write,list,slow                  1:RW 2:W
lmpop               write,list,slow                  #1:RW
blpop               write,list,slow,blocking         1..-2:RW
brpop               write,list,slow,blocking         1..-2:RW
blmove              write,list,slow,blocking         1:RW 2:W
brpoplpush          write,list,slow,blocking         1:RW 2:W
blmpop              write,list,slow,blocking         #2:RW
# -- sets
sadd                write,set,fast                   1:W
srem                write,set,fast                   1:W
spop                write,set,fast                   1:RW
smove               write,set,fast                   1:RW 2:W
smembers            read,set,slow                    1:R
sismember           read,set,fast                    1:-
smismember          read,set,fast                    1:-
scard               read,set,fast                    1:-
srandmember         read,set,slow                    1:R
sinter              read,set,slow                    1..-1:R
sunion              read,set,slow                    1..-1:R
sdiff               read,set,slow                    1..-1:R
sintercard          read,set,slow                    #1:R
sinterstore         write,set,slow                   1:W 2..-1:R
sunionstore         write,set,slow                   1:W 2..-1:R
sdiffstore          write,set,slow                   1:W 2..-1:R
sscan               read,set,slow                    1:R
# -- sorted sets
zadd                write,sortedset,fast             1:W
zincrby             write,sortedset,fast             1:W
zrem                write,sortedset,fast             1:W
zscore              read,sortedset,fast              1:R
zmscore             read,sortedset,fast              1:R
zrank               read,sortedset,fast              1:R
zrevrank            read,sortedset,fast              1:R
zcard               read,sortedset,fast              1:-
zcount              read,sortedset,fast              1:R
zlexcount           read,sortedset,fast              1:R
zrange              read,sortedset,slow              1:R
zrevrange           read,sortedset,slow              1:R
zrangebyscore       read,sortedset,slow              1:R
zrevrangebyscore    read,sortedset,slow              1:R
zrangebylex         read,sortedset,slow              1:R
zrevrangebylex      read,sortedset,slow              1:R
zrangestore         write,sortedset,slow             1:W 2:R
zpopmin             write,sortedset,fast             1:RW
zpopmax             write,sortedset,fast             1:RW
bzpopmin            write,sortedset,fast,blocking    1..-2:RW
bzpopmax            write,sortedset,fast,blocking    1..-2:RW
zmpop               write,sortedset,slow             #1:RW
bzmpop              write,sortedset,slow,blocking    #2:RW
zunionstore         write,sortedset,slow             1:W #2:R
zinterstore         write,sortedset,slow             1:W #2:R
zdiffstore          write,sortedset,slow             1:W #2:R
zunion              read,sortedset,slow              #1:R
zinter              read,sortedset,slow              #1:R
zdiff               read,sortedset,slow              #1:R
zintercard          read,sortedset,slow              #1:R
zremrangebyscore    write,sortedset,slow             1:W
zremrangebyrank     write,sortedset,slow             1:W
zremrangebylex      write,sortedset,slow             1:W
zrandmember         read,sortedset,slow              1:R
zscan               read,sortedset,slow              1:R
# -- bitmaps, hyperloglogs, geo
setbit              write,bitmap,slow                1:W
getbit              read,bitmap,fast                 1:R
bitcount            read,bitmap,slow                 1:R
bitpos              read,bitmap,slow                 1:R
bitop               write,bitmap,slow                2:W 3..-1:R
bitfield            write,bitmap,slow                1:RW
bitfield_ro         read,bitmap,fast                 1:R
pfadd               write,hyperloglog,fast           1:W
pfcount             read,hyperloglog,slow            1..-1:RW
pfmerge             write,hyperloglog,slow           1:RW 2..-1:R
geoadd              write,geo,slow                   1:W
geodist             read,geo,slow                    1:R
geohash             read,geo,slow                    1:R
geopos              read,geo,slow                    1:R
georadius           write,geo,slow                   1:RW
georadiusbymember   write,geo,slow                   1:RW
georadius_ro        read,geo,slow                    1:R
georadiusbymember_ro  read,geo,slow                  1:R
geosearch           read,geo,slow                    1:R
geosearchstore      write,geo,slow                   1:W 2:R
# -- streams
xadd                write,stream,fast                1:W
xlen                read,stream,fast                 1:-
xrange              read,stream,slow                 1:R
xrevrange           read,stream,slow                 1:R
xdel                write,stream,fast                1:W
xtrim               write,stream,slow                1:W
xread               read,stream,slow,blocking        STREAMS:R
xreadgroup          write,stream,slow,blocking       STREAMS:RW
xack                write,stream,fast                1:W
xpending            read,stream,slow                 1:R
xclaim              write,stream,fast                1:RW
xautoclaim          write,stream,fast                1:RW
xsetid              write,stream,fast                1:W
xgroup|create       write,stream,slow                2:W
xgroup|createconsumer  write,stream,slow             2:W
xgroup|delconsumer  write,stream,slow                2:W
xgroup|destroy      write,stream,slow                2:W
xgroup|setid        write,stream,slow                2:W
xgroup|help         stream,slow                      -
xinfo|consumers     read,stream,slow                 2:R
xinfo|groups        read,stream,slow                 2:R
xinfo|stream        read,stream,slow                 2:R
xinfo|help          stream,slow                      -
# -- pub/sub
publish             pubsub,fast                      -  1
spublish            pubsub,fast                      -  1
subscribe           pubsub,slow                      -  1..-1
ssubscribe          pubsub,slow                      -  1..-1
psubscribe          pubsub,slow                      -  p:1..-1
unsubscribe         pubsub,slow                      -
sunsubscribe        pubsub,slow                      -
punsubscribe        pubsub,slow                      -
pubsub|channels     pubsub,slow                      -
pubsub|numpat       pubsub,slow                      -
pubsub|numsub       pubsub,slow                      -
pubsub|shardchannels  pubsub,slow                    -
pubsub|shardnumsub  pubsub,slow                      -
pubsub|help         slow                             -
# -- transactions, scripting
multi               fast,transaction                 -
exec                slow,transaction                 -
discard             fast,transaction                 -
watch               fast,transaction                 1..-1:-
unwatch             fast,transaction                 -
eval                slow,scripting                   #2:RW
evalsha             slow,scripting                   #2:RW
eval_ro             slow,scripting                   #2:R
evalsha_ro          slow,scripting                   #2:R
fcall               slow,scripting                   #2:RW
fcall_ro            slow,scripting                   #2:R
script|exists       slow,scripting                   -
script|flush        slow,scripting                   -
script|kill         slow,scripting                   -
script|load         slow,scripting                   -
script|help         slow,scripting                   -
function|delete     write,slow,scripting             -
function|dump       slow,scripting                   -
function|flush      write,slow,scripting             -
function|kill       slow,scripting                   -
function|list       slow,scripting                   -
function|load       write,slow,scripting             -
function|restore    write,slow,scripting             -
function|stats      slow,scripting                   -
function|help       slow,scripting                   -
# -- connection
auth                fast,connection                  -
hello               fast,connection                  -
ping                fast,connection                  -
echo                fast,connection                  -
quit                fast,connection                  -
reset               fast,connection                  -
asking              fast,connection                  -
readonly            fast,connection                  -
readwrite           fast,connection                  -
client|id           slow,connection                  -
client|info         slow,connection                  -
client|getname      slow,connection                  -
client|setname      slow,connection                  -
client|setinfo      slow,connection                  -
client|reply        slow,connection                  -
client|getredir     slow,connection                  -
client|tracking     slow,connection                  -
client|trackinginfo  slow,connection                 -
client|caching      slow,connection                  -
client|no-touch     slow,connection                  -
client|help         slow,connection                  -
client|list         admin,slow,dangerous,connection  -
client|kill         admin,slow,dangerous,connection  -
client|pause        admin,slow,dangerous,connection  -
client|unpause      admin,slow,dangerous,connection  -
client|unblock      admin,slow,dangerous,connection  -
client|no-evict     admin,slow,dangerous,connection  -
command             slow,connection                  -
command|count       slow,connection                  -
command|docs        slow,connection                  -
command|getkeys     slow,connection                  -
command|getkeysandflags  slow,connection             -
command|info        slow,connection                  -
command|list        slow,connection                  -
command|help        slow,connection                  -
# -- server
time                fast                             -
info                slow,dangerous                   -
lolwut              read,fast                        -
lastsave            admin,fast,dangerous             -
role                admin,fast,dangerous             -
save                admin,slow,dangerous             -
bgsave              admin,slow,dangerous             -
bgrewriteaof        admin,slow,dangerous             -
shutdown            admin,slow,dangerous             -
monitor             admin,slow,dangerous             -
debug               admin,slow,dangerous             -
replicaof           admin,slow,dangerous             -
slaveof             admin,slow,dangerous             -
failover            admin,slow,dangerous             -
sync                admin,slow,dangerous             -
psync               admin,slow,dangerous             -
replconf            admin,slow,dangerous             -
config|get          admin,slow,dangerous             -
config|set          admin,slow,dangerous             -
config|resetstat    admin,slow,dangerous             -
config|rewrite      admin,slow,dangerous             -
config|help         slow                             -
acl|whoami          slow                             -
acl|cat             slow                             -
acl|genpass         slow                             -
acl|help            slow                             -
acl|list            admin,slow,dangerous             -
acl|users           admin,slow,dangerous             -
acl|getuser         admin,slow,dangerous             -
acl|setuser         admin,slow,dangerous             -
acl|deluser         admin,slow,dangerous             -
acl|dryrun          admin,slow,dangerous             -
acl|log             admin,slow,dangerous             -
acl|load            admin,slow,dangerous             -
acl|save            admin,slow,dangerous             -
memory|usage        read,slow                        2:-
memory|stats        slow                             -
memory|doctor       slow                             -
memory|malloc-stats  slow                            -
memory|purge        slow                             -
memory|help         slow                             -
slowlog|get         admin,slow,dangerous             -
slowlog|len         admin,slow,dangerous             -
slowlog|reset       admin,slow,dangerous             -
slowlog|help        slow                             -
latency|latest      admin,slow,dangerous             -
latency|history     admin,slow,dangerous             -
latency|reset       admin,slow,dangerous             -
latency|doctor      admin,slow,dangerous             -
latency|graph       admin,slow,dangerous             -
latency|histogram   admin,slow,dangerous             -
latency|help        slow                             -
module|list         admin,slow,dangerous             -
module|load         admin,slow,dangerous             -
module|loadex       admin,slow,dangerous             -
module|unload       admin,slow,dangerous             -
module|help         slow                             -
cluster|info        slow                             -
cluster|keyslot     slow                             -
cluster|myid        slow                             -
cluster|myshardid   slow                             -
cluster|nodes       slow                             -
cluster|shards      slow                             -
cluster|slots       slow                             -
cluster|links       slow                             -
cluster|countkeysinslot  slow                        -
cluster|getkeysinslot  slow                          -
cluster|help        slow                             -
cluster|addslots    admin,slow,dangerous             -
cluster|delslots    admin,slow,dangerous             -
cluster|failover    admin,slow,dangerous             -
cluster|forget      admin,slow,dangerous             -
cluster|meet        admin,slow,dangerous             -
cluster|replicate   admin,slow,dangerous             -
cluster|reset       admin,slow,dangerous             -
cluster|setslot     admin,slow,dangerous             -
"""

# Commands anyone may run before and regardless of ACLs (Redis's CMD_NO_AUTH flag).
NO_AUTH = frozenset({"auth", "hello", "quit"})


@dataclass(frozen=True)
class Position:
    """Where arguments are: one index, a range, a counted list or the STREAMS keys."""

    first: int = 0
    last: int = 0  # < 0: from the end
    step: int = 1
    counted: bool = False  # argument ``first`` is a count, the items follow it
    streams: bool = False

    def pick(self, argv: list[bytes]) -> list[bytes]:
        if self.streams:
            names = [a.lower() for a in argv]
            if b"streams" not in names:
                return []
            rest = argv[names.index(b"streams") + 1:]
            return rest[:len(rest) // 2]
        if self.counted:
            try:
                count = int(argv[self.first])
            except (IndexError, ValueError):
                return []
            return argv[self.first + 1:self.first + 1 + max(count, 0)]
        last = self.last if self.last >= 0 else len(argv) + self.last
        return argv[self.first:last + 1:self.step]


@dataclass(frozen=True)
class KeySpec:
    where: Position
    read: bool
    write: bool


@dataclass(frozen=True)
class Command:
    name: str  # "get", "client|kill"
    categories: frozenset[str]
    keys: tuple[KeySpec, ...] = ()
    channels: Position | None = None
    channel_patterns: bool = False  # PSUBSCRIBE: patterns matched literally


def _position(text: str) -> Position:
    if text == "STREAMS":
        return Position(streams=True)
    if text.startswith("#"):
        return Position(int(text[1:]), counted=True)
    where, _, step = text.partition("/")
    first, _, last = where.partition("..")
    return Position(int(first), int(last) if last else int(first), int(step or 1))


def _row(line: str) -> Command:
    name, categories, *rest = line.split()
    keys: list[KeySpec] = []
    channels: Position | None = None
    patterns = False
    for item in rest:
        if item == "-":
            continue
        if ":" not in item.removeprefix("p:"):  # a channel position (keys carry ":R")
            patterns = item.startswith("p:")
            channels = _position(item.removeprefix("p:"))
            continue
        where, _, flags = item.rpartition(":")
        keys.append(KeySpec(_position(where), "R" in flags, "W" in flags))
    return Command(name, frozenset(categories.split(",")), tuple(keys), channels, patterns)


def _load() -> dict[str, Command]:
    rows = [_row(line) for line in _TABLE.splitlines()
            if line.strip() and not line.startswith("#")]
    return {row.name: row for row in rows}


COMMANDS: dict[str, Command] = _load()
# Container commands (CLIENT, CONFIG, ...) -> their subcommands' full names.
SUBCOMMANDS: dict[str, frozenset[str]] = {}
for _name in COMMANDS:
    if "|" in _name:
        _parent = _name.split("|")[0]
        SUBCOMMANDS[_parent] = SUBCOMMANDS.get(_parent, frozenset()) | {_name}
CONTAINERS = frozenset(SUBCOMMANDS)
# Category -> the full names of its commands; "slow" is every command that is not fast.
BY_CATEGORY: dict[str, frozenset[str]] = {
    category: frozenset(n for n, c in COMMANDS.items() if category in c.categories)
    for category in CATEGORIES
}


def resolve(command: str, args: list[bytes]) -> str:
    """The full name a call runs: ``client|kill`` for CLIENT KILL ..., ``get`` for GET;
    a container's unknown subcommand keeps its own ``client|<sub>`` name."""
    name = command.lower()
    if name in CONTAINERS and args:
        return f"{name}|{args[0].decode('utf-8', 'replace').lower()}"
    return name
