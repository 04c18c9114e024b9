//! The built-in default network: what `run` uses on a machine with no netconf at all, so
//! `cnitool run -- ip addr` works with only the plugins installed. A netconf file with the same
//! name overrides it.

use libcni::NetworkConfigList;

/// The built-in network's name.
pub const NAME: &str = "cnitool";

/// bridge (with masquerade) + host-local on a private subnet + portmap.
///
/// No `loopback` plugin: `run` brings `lo` up itself when it creates the namespace, and the
/// loopback plugin's DEL sets `lo` *down*, which would break a namespace joined with
/// `run --netns` (or `add` to a namespace someone else uses).
pub const CONFLIST: &str = r#"{
  "cniVersion": "1.0.0",
  "name": "cnitool",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cnitool0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.89.0.0/24", "gateway": "10.89.0.1" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
"#;

/// The built-in network list.
pub fn list() -> NetworkConfigList {
    let mut list = libcni::conf::conf_list_from_bytes(CONFLIST.as_bytes(), None)
        .expect("the built-in netconf is valid");
    list.source = None;
    list
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_parses() {
        let list = super::list();
        assert_eq!(list.name, super::NAME);
        let types: Vec<_> = list
            .plugins
            .iter()
            .map(|p| p.plugin_type.as_str())
            .collect();
        assert_eq!(types, ["bridge", "portmap"]);
    }
}
