//! The real plugins of `/usr/lib/cni` (Debian containernetworking-plugins 1.1.1, CNI versions
//! up to 1.0.0) end to end through `CniConfig`, for the spec versions they support.
//!
//! Each test runs in its own throwaway host namespace (network + mount) with its own temp
//! dirs for the cache, the host-local `dataDir`, tuning's `dataDir` and the namespace files;
//! traffic goes only between namespaces the test made, on 10.199.x.0/24. After DEL each test
//! checks that nothing is left: no host-side veth, no cache file, host-local's address
//! released, no per-attachment iptables chain or rule.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use libcni::api::CniConfig;
use libcni::conf::conf_list_from_bytes;
use libcni::netns::{self, CreateOptions};
use libcni::{CniResult, NetworkConfigList, RuntimeConf};
use serde_json::{json, Value};
use tempfile::TempDir;

use support::{cni_chains, dir_names, in_throwaway_host, ip_json, iptables_save, link_names, run};

const PLUGINS: &str = "/usr/lib/cni";
const VERSIONS: [&str; 3] = ["0.3.1", "0.4.0", "1.0.0"];

/// Chains that plugins create once per host and leave in place by design (portmap's and
/// firewall's shared entry chains); everything else `CNI-*` is per attachment.
const SHARED_CHAINS: [&str; 6] = [
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
    "CNI-FORWARD",
    "CNI-ADMIN",
    "CNI-HOSTPORT-OUTPUT",
];

/// The temp dirs and the `CniConfig` of one test; lives on the namespace thread.
struct Host {
    tmp: TempDir,
    cfg: CniConfig,
}

impl Host {
    fn new() -> Host {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = CniConfig::new(vec![PLUGINS.into()], tmp.path().join("cache"));
        Host { tmp, cfg }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn netns_dir(&self) -> PathBuf {
        self.path("netns")
    }

    /// A new named namespace (lo up) in the test's own run dir.
    fn netns(&self, name: &str) -> PathBuf {
        netns::create(self.netns_dir(), name, CreateOptions::default()).unwrap()
    }

    fn host_local(&self, subnet: &str) -> Value {
        json!({
            "type": "host-local",
            "dataDir": self.path("ipam").to_str().unwrap(),
            "ranges": [[{ "subnet": subnet }]],
            "routes": [{ "dst": "0.0.0.0/0" }],
        })
    }

    fn list(&self, version: &str, name: &str, plugins: Value) -> NetworkConfigList {
        let doc = json!({ "cniVersion": version, "name": name, "plugins": plugins });
        conf_list_from_bytes(doc.to_string().as_bytes(), None).unwrap()
    }

    /// ADD, then CHECK where the version has it.
    fn add(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Value {
        let result = self
            .cfg
            .add_network_list(list, rt)
            .unwrap_or_else(|e| panic!("ADD {} {}: {e}", list.name, list.cni_version));
        if list.cni_version.as_str() >= "0.4.0" {
            match self.cfg.check_network_list(list, rt) {
                Ok(()) => {}
                // portmap <= 1.2 checks for IPv6 DNAT rules it never made for an IPv4-only
                // result (containernetworking/plugins#819): a plugin bug, not ours.
                Err(libcni::Error::Plugin { plugin, msg, .. })
                    if plugin == "portmap" && msg.contains("could not check ipv6 dnat") => {}
                Err(e) => panic!("CHECK {} {}: {e}", list.name, list.cni_version),
            }
        }
        result_json(&result)
    }

    fn del(&self, list: &NetworkConfigList, rt: &RuntimeConf) {
        self.cfg
            .del_network_list(list, rt)
            .unwrap_or_else(|e| panic!("DEL {} {}: {e}", list.name, list.cni_version));
    }

    /// Nothing of any attachment is left in the throwaway host, the cache or host-local's
    /// data; then the namespaces are deleted.
    fn assert_clean(&self) {
        let links = link_names();
        assert!(
            links.iter().all(|l| !l.starts_with("veth")),
            "veths left: {links:?}"
        );
        assert!(
            dir_names(&self.path("cache/results")).is_empty(),
            "cache left: {:?}",
            dir_names(&self.path("cache/results"))
        );
        for net in dir_names(&self.path("ipam")) {
            let left: Vec<String> = dir_names(&self.path("ipam").join(&net))
                .into_iter()
                .filter(|f| f != "lock" && !f.starts_with("last_reserved_ip"))
                .collect();
            assert!(left.is_empty(), "host-local kept {left:?} in {net}");
        }
        let chains: Vec<String> = cni_chains()
            .into_iter()
            .filter(|c| !SHARED_CHAINS.contains(&c.as_str()))
            .collect();
        assert!(chains.is_empty(), "iptables chains left: {chains:?}");
        for ns in netns::list(self.netns_dir()).unwrap() {
            netns::delete(self.netns_dir(), &ns.name).unwrap();
        }
        assert!(netns::list(self.netns_dir()).unwrap().is_empty());
    }
}

impl Drop for Host {
    /// `netns::create` made the run dir a (shared) mount point in this thread's mount
    /// namespace; removing the temp dir would fail with EBUSY and leave it in /tmp.
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.netns_dir(), nix::mount::MntFlags::MNT_DETACH);
    }
}

fn rt(container_id: &str, netns: &Path) -> RuntimeConf {
    RuntimeConf {
        container_id: container_id.into(),
        netns: netns.to_owned(),
        ifname: "eth0".into(),
        ..RuntimeConf::default()
    }
}

fn result_json(r: &CniResult) -> Value {
    serde_json::from_slice(&r.to_json()).unwrap()
}

/// The first IP of a result: (address with prefix, gateway).
fn first_ip(result: &Value) -> (String, Option<String>) {
    let ip = &result["ips"][0];
    (
        ip["address"].as_str().unwrap().to_owned(),
        ip["gateway"].as_str().map(str::to_owned),
    )
}

/// In namespace `ns`: the IPv4 addresses of `ifname` as `addr/prefix`.
fn addrs_in(ns: &Path, ifname: &str) -> Vec<String> {
    let v = netns::run_in(ns, || ip_json(&["addr", "show", "dev", ifname])).unwrap();
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["family"] == "inet")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

/// In namespace `ns`: the gateway of the IPv4 default route.
fn default_gw_in(ns: &Path) -> Option<String> {
    let v = netns::run_in(ns, || ip_json(&["-4", "route", "show", "default"])).unwrap();
    v.as_array()
        .unwrap()
        .first()
        .and_then(|r| r["gateway"].as_str().map(str::to_owned))
}

fn links_in(ns: &Path) -> Vec<String> {
    netns::run_in(ns, link_names).unwrap()
}

/// TCP from the container namespace to `gw` (a listener on the calling thread, the throwaway
/// host): proves the path both ways. (No `ping` on this system, and raw ICMP would need
/// unsafe code.)
fn assert_reaches(ns: &Path, gw: &str) {
    let gw: Ipv4Addr = gw.parse().unwrap();
    let listener = TcpListener::bind((gw, 0)).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let sent = netns::run_in(ns, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.write_all(b"hello")?;
        s.local_addr()
    })
    .unwrap()
    .unwrap_or_else(|e| panic!("connecting from {} to {addr}: {e}", ns.display()));
    let (mut conn, peer) = listener.accept().unwrap();
    assert_eq!(peer, sent);
    let mut buf = [0u8; 5];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
}

fn skip(test: &str) -> bool {
    !testsupport::plugins_or_skip(test)
}

#[test]
fn loopback() {
    if skip("loopback") {
        return;
    }
    for version in VERSIONS {
        in_throwaway_host(|| {
            let h = Host::new();
            let ns = netns::create(h.netns_dir(), "lo1", CreateOptions { lo_up: false }).unwrap();
            let list = h.list(version, "lonet", json!([{ "type": "loopback" }]));
            let r = rt("ctr-lo", &ns);
            let lo_up = || {
                let v = netns::run_in(&ns, || ip_json(&["link", "show", "lo"])).unwrap();
                v[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP")
            };
            assert!(!lo_up());
            let result = h.add(&list, &r);
            assert_eq!(result["cniVersion"], version);
            assert_eq!(result["interfaces"][0]["name"], "lo", "{result}");
            assert!(lo_up());
            assert_eq!(addrs_in(&ns, "lo"), ["127.0.0.1/8"]);
            h.del(&list, &r);
            assert!(!lo_up(), "{version}: DEL takes lo down");
            h.assert_clean();
        });
    }
}

fn bridge(name: &str, h: &Host, subnet: &str) -> Value {
    json!({
        "type": "bridge",
        "bridge": name,
        "isGateway": true,
        "ipMasq": false,
        "ipam": h.host_local(subnet),
    })
}

#[test]
fn bridge_host_local_two_containers() {
    if skip("bridge_host_local_two_containers") {
        return;
    }
    for (i, version) in VERSIONS.into_iter().enumerate() {
        in_throwaway_host(|| {
            let h = Host::new();
            let subnet = format!("10.199.{}.0/24", 10 + i);
            let list = h.list(version, "brnet", json!([bridge("cnitbr0", &h, &subnet)]));
            let ns1 = h.netns("c1");
            let ns2 = h.netns("c2");
            let (r1, r2) = (rt("ctr-one", &ns1), rt("ctr-two", &ns2));
            let res1 = h.add(&list, &r1);
            let res2 = h.add(&list, &r2);
            assert_eq!(res1["cniVersion"], version);
            let (addr1, gw1) = first_ip(&res1);
            let (addr2, _) = first_ip(&res2);
            assert_ne!(addr1, addr2, "two containers, two addresses");
            let gw = gw1.unwrap();
            assert_eq!(gw, format!("10.199.{}.1", 10 + i));
            for (ns, addr) in [(&ns1, &addr1), (&ns2, &addr2)] {
                assert_eq!(addrs_in(ns, "eth0"), [addr.as_str()], "{version}");
                assert_eq!(default_gw_in(ns).as_deref(), Some(gw.as_str()));
                assert_reaches(ns, &gw);
            }
            let bridge_addrs = ip_json(&["addr", "show", "dev", "cnitbr0"]);
            assert!(bridge_addrs.to_string().contains(&gw), "{bridge_addrs}");
            assert_eq!(
                link_names()
                    .iter()
                    .filter(|l| l.starts_with("veth"))
                    .count(),
                2
            );
            h.del(&list, &r1);
            h.del(&list, &r2);
            assert!(!links_in(&ns1).contains(&"eth0".to_owned()));
            h.assert_clean();
        });
    }
}

#[test]
fn ptp_host_local() {
    if skip("ptp_host_local") {
        return;
    }
    for (i, version) in VERSIONS.into_iter().enumerate() {
        in_throwaway_host(|| {
            let h = Host::new();
            let subnet = format!("10.199.{}.0/24", 20 + i);
            let list = h.list(
                version,
                "ptpnet",
                json!([{ "type": "ptp", "ipMasq": false, "ipam": h.host_local(&subnet) }]),
            );
            let ns = h.netns("p1");
            let r = rt("ctr-ptp", &ns);
            let res = h.add(&list, &r);
            let (addr, gw) = first_ip(&res);
            let gw = gw.unwrap();
            assert_eq!(addrs_in(&ns, "eth0"), [addr.as_str()], "{version}");
            assert_eq!(default_gw_in(&ns).as_deref(), Some(gw.as_str()));
            assert_reaches(&ns, &gw);
            h.del(&list, &r);
            assert!(!links_in(&ns).contains(&"eth0".to_owned()));
            h.assert_clean();
        });
    }
}

#[test]
fn portmap_chain_added_and_removed() {
    if skip("portmap_chain_added_and_removed") {
        return;
    }
    for (i, version) in VERSIONS.into_iter().enumerate() {
        in_throwaway_host(|| {
            let h = Host::new();
            let subnet = format!("10.199.{}.0/24", 30 + i);
            let list = h.list(
                version,
                "pmnet",
                json!([
                    bridge("cnitbr1", &h, &subnet),
                    { "type": "portmap", "capabilities": { "portMappings": true } },
                ]),
            );
            let ns = h.netns("pm1");
            let mut r = rt("ctr-pm", &ns);
            r.capability_args.insert(
                "portMappings".into(),
                json!([{ "hostPort": 18080, "containerPort": 80, "protocol": "tcp" }]),
            );
            let res = h.add(&list, &r);
            let (addr, _) = first_ip(&res);
            let ip = addr.split('/').next().unwrap();
            let nat = iptables_save("nat");
            assert!(nat.contains(":CNI-DN-"), "{version}: {nat}");
            assert!(
                nat.contains(&format!("--to-destination {ip}:80")),
                "{version}: {nat}"
            );
            // DEL without the capability args: the cached ones are used.
            h.del(&list, &rt("ctr-pm", &ns));
            let nat = iptables_save("nat");
            assert!(!nat.contains("CNI-DN-"), "{version}: {nat}");
            assert!(!nat.contains(ip), "{version}: {nat}");
            h.assert_clean();
        });
    }
}

#[test]
fn firewall_rules_added_and_removed() {
    if skip("firewall_rules_added_and_removed") {
        return;
    }
    // firewall 1.1.1 supports 0.4.0 and 1.0.0 only.
    for (i, version) in ["0.4.0", "1.0.0"].into_iter().enumerate() {
        in_throwaway_host(|| {
            let h = Host::new();
            let subnet = format!("10.199.{}.0/24", 40 + i);
            let list = h.list(
                version,
                "fwnet",
                json!([
                    bridge("cnitbr2", &h, &subnet),
                    { "type": "firewall", "backend": "iptables" },
                ]),
            );
            let ns = h.netns("fw1");
            let r = rt("ctr-fw", &ns);
            let res = h.add(&list, &r);
            let (addr, _) = first_ip(&res);
            let ip = addr.split('/').next().unwrap().to_owned();
            let filter = iptables_save("filter");
            assert!(filter.contains(":CNI-FORWARD"), "{filter}");
            assert!(
                filter
                    .lines()
                    .any(|l| l.starts_with("-A CNI-FORWARD") && l.contains(&ip)),
                "{version}: {filter}"
            );
            h.del(&list, &r);
            let filter = iptables_save("filter");
            assert!(!filter.contains(&ip), "{version}: {filter}");
            h.assert_clean();
        });
    }
}

#[test]
fn tuning_mtu_and_sysctl() {
    if skip("tuning_mtu_and_sysctl") {
        return;
    }
    for (i, version) in VERSIONS.into_iter().enumerate() {
        in_throwaway_host(|| {
            let h = Host::new();
            let subnet = format!("10.199.{}.0/24", 50 + i);
            let list = h.list(
                version,
                "tunnet",
                json!([
                    { "type": "ptp", "ipMasq": false, "ipam": h.host_local(&subnet) },
                    {
                        "type": "tuning",
                        "mtu": 1400,
                        "sysctl": { "net.ipv4.conf.eth0.arp_filter": "1" },
                        "dataDir": h.path("tuning").to_str().unwrap(),
                    },
                ]),
            );
            let ns = h.netns("t1");
            let r = rt("ctr-tun", &ns);
            let arp_filter = || {
                netns::run_in(&ns, || {
                    fs::read_to_string("/proc/sys/net/ipv4/conf/eth0/arp_filter").unwrap()
                })
                .unwrap()
            };
            h.add(&list, &r);
            let link = netns::run_in(&ns, || ip_json(&["link", "show", "eth0"])).unwrap();
            assert_eq!(link[0]["mtu"], 1400, "{version}: {link}");
            assert_eq!(arp_filter().trim(), "1", "{version}");
            // tuning keeps the original values in our dataDir, never in the host's /run.
            assert_eq!(dir_names(&h.path("tuning")).len(), 1, "{version}");
            h.del(&list, &r);
            assert!(
                dir_names(&h.path("tuning")).is_empty(),
                "tuning kept {:?}",
                dir_names(&h.path("tuning"))
            );
            h.assert_clean();
        });
    }
}

#[test]
fn macvlan_over_a_veth() {
    if skip("macvlan_over_a_veth") {
        return;
    }
    for (i, version) in VERSIONS.into_iter().enumerate() {
        in_throwaway_host(|| {
            let h = Host::new();
            // The kernel here has no dummy links: one end of a veth pair is the parent.
            run(
                "ip",
                &[
                    "link", "add", "mvparent", "type", "veth", "peer", "name", "mvpeer",
                ],
            );
            run("ip", &["link", "set", "mvparent", "up"]);
            run("ip", &["link", "set", "mvpeer", "up"]);
            let subnet = format!("10.199.{}.0/24", 60 + i);
            let list = h.list(
                version,
                "mvnet",
                json!([{
                    "type": "macvlan",
                    "master": "mvparent",
                    "mode": "bridge",
                    "ipam": h.host_local(&subnet),
                }]),
            );
            let ns = h.netns("m1");
            let r = rt("ctr-mv", &ns);
            let res = h.add(&list, &r);
            let (addr, _) = first_ip(&res);
            assert_eq!(addrs_in(&ns, "eth0"), [addr], "{version}");
            let link = netns::run_in(&ns, || ip_json(&["-d", "link", "show", "eth0"])).unwrap();
            assert_eq!(link[0]["linkinfo"]["info_kind"], "macvlan", "{link}");
            h.del(&list, &r);
            assert!(!links_in(&ns).contains(&"eth0".to_owned()));
            run("ip", &["link", "del", "mvparent"]);
            h.assert_clean();
        });
    }
}
