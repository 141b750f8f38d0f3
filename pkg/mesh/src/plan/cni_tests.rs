//! Unit tests of `cni`.

use super::*;

#[test]
fn dual_stack_conflist_with_portmap() {
    let v = conflist(&CniInputs {
        pod_cidrs: vec![
            "10.42.1.0/24".parse().unwrap(),
            "fd00:10:42:1::/64".parse().unwrap(),
        ],
        mtu: 1420,
        portmap: true,
    });
    insta::assert_json_snapshot!(v, @r#"
    {
      "cniVersion": "1.0.0",
      "name": "kilo",
      "plugins": [
        {
          "bridge": "kube-bridge",
          "forceAddress": true,
          "hairpinMode": true,
          "ipam": {
            "ranges": [
              [
                {
                  "subnet": "10.42.1.0/24"
                }
              ],
              [
                {
                  "subnet": "fd00:10:42:1::/64"
                }
              ]
            ]
          },
          "isDefaultGateway": true,
          "mtu": 1420,
          "type": "kilo-cni"
        },
        {
          "capabilities": {
            "portMappings": true
          },
          "snat": true,
          "type": "portmap"
        }
      ]
    }
    "#);
}
