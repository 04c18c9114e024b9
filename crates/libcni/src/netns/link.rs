//! The little rtnetlink this module needs: bringing a link up, over a synchronous socket.

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use crate::error::Error;

/// Brings the network interface `name` up (`ip link set NAME up`) in the calling thread's
/// network namespace.
///
/// Sends one `RTM_SETLINK` request with `IFF_UP` in both the flags and the change mask over a
/// synchronous rtnetlink socket, and waits for the kernel's acknowledgement. To act in
/// another namespace, call it inside [`run_in`](super::run_in).
///
/// # Errors
///
/// [`Error::Io`] with `op` "bringing up network interface" and the interface name as `path`:
/// `ENODEV` if there is no such interface, `EPERM` without `CAP_NET_ADMIN`, or the socket's
/// own errors.
pub fn set_link_up(name: &str) -> Result<(), Error> {
    set_link_up_io(name).map_err(|e| Error::io("bringing up network interface", name, e))
}

fn set_link_up_io(name: &str) -> io::Result<()> {
    let mut link = LinkMessage::default();
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    // Index 0 and IFLA_IFNAME: the kernel looks the link up by name.
    link.attributes.push(LinkAttribute::IfName(name.to_owned()));
    request_ack(RouteNetlinkMessage::SetLink(link))
}

/// The MTU of the network interface `name` (`ip link show NAME`) in the calling thread's
/// network namespace (sysfs shows the namespace of whoever mounted it, so it cannot tell).
/// To look in another namespace, call it inside [`run_in`](super::run_in).
///
/// # Errors
///
/// [`Error::Io`] with `op` "reading the MTU of network interface": `ENODEV` if there is no
/// such interface, or the socket's own errors.
pub fn link_mtu(name: &str) -> Result<u32, Error> {
    let mut link = LinkMessage::default();
    link.attributes.push(LinkAttribute::IfName(name.to_owned()));
    let reply = request(RouteNetlinkMessage::GetLink(link), 0)
        .map_err(|e| Error::io("reading the MTU of network interface", name, e))?;
    let mtu = match reply {
        Some(RouteNetlinkMessage::NewLink(l)) => l.attributes.iter().find_map(|a| match a {
            LinkAttribute::Mtu(m) => Some(*m),
            _ => None,
        }),
        _ => None,
    };
    mtu.ok_or_else(|| {
        Error::io(
            "reading the MTU of network interface",
            name,
            io::Error::new(io::ErrorKind::InvalidData, "no MTU in the kernel's answer"),
        )
    })
}

/// Sends `msg` with `NLM_F_REQUEST | NLM_F_ACK` and waits for the kernel's answer to it.
fn request_ack(msg: RouteNetlinkMessage) -> io::Result<()> {
    request(msg, NLM_F_ACK).map(|_| ())
}

/// Sends `msg` with `NLM_F_REQUEST | extra` and returns the kernel's answer to it: the
/// message it sent back, or `None` for a bare acknowledgement.
fn request(msg: RouteNetlinkMessage, extra: u16) -> io::Result<Option<RouteNetlinkMessage>> {
    const SEQ: u32 = 1;

    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    // Only the kernel (port 0) may then send to us.
    socket.connect(&SocketAddr::new(0, 0))?;

    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | extra;
    header.sequence_number = SEQ;
    let mut req = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    req.finalize();
    let mut buf = vec![0; req.buffer_len()];
    req.serialize(&mut buf);
    socket.send(&buf, 0)?;

    loop {
        let (data, _) = socket.recv_from_full()?;
        let mut rest = &data[..];
        while !rest.is_empty() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let len = reply.header.length as usize;
            if len == 0 || len > rest.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed netlink message length",
                ));
            }
            // Messages are 4-byte aligned within a datagram.
            rest = &rest[len.next_multiple_of(4).min(rest.len())..];
            if reply.header.sequence_number != SEQ {
                continue;
            }
            match reply.payload {
                // An "error" without a code is the acknowledgement.
                NetlinkPayload::Error(err) => {
                    return match err.code {
                        None => Ok(None),
                        Some(_) => Err(err.to_io()),
                    };
                }
                NetlinkPayload::InnerMessage(m) => return Ok(Some(m)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn brings_lo_up() {
        if !root_or_skip("brings_lo_up") {
            return;
        }
        in_throwaway_host(|| {
            assert!(!link_is_up(&ip_link_show("lo")));
            set_link_up("lo").unwrap();
            assert!(link_is_up(&ip_link_show("lo")));
            // Idempotent.
            set_link_up("lo").unwrap();
        });
    }

    #[test]
    fn mtu_of_a_link() {
        if !root_or_skip("mtu_of_a_link") {
            return;
        }
        in_throwaway_host(|| {
            assert_eq!(link_mtu("lo").unwrap(), 65536);
            let e = link_mtu("nosuchdev0").unwrap_err();
            let Error::Io { source, .. } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(source.raw_os_error(), Some(libc::ENODEV));
        });
    }

    #[test]
    fn missing_link_is_enodev() {
        if !root_or_skip("missing_link_is_enodev") {
            return;
        }
        in_throwaway_host(|| {
            let e = set_link_up("nosuchdev0").unwrap_err();
            let Error::Io { op, path, source } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(*op, "bringing up network interface");
            assert_eq!(path.to_str(), Some("nosuchdev0"));
            assert_eq!(source.raw_os_error(), Some(libc::ENODEV));
        });
    }
}
