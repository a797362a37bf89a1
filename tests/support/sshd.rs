//! An sshd on a free 127.0.0.1 port, with a host key and a client key made for the test: what
//! publishing to a remote (rsync over ssh) is tested against.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    child: Child,
    pub port: u16,
    /// `$TRAINYARD_SSH`: the ssh command with the test's key and known_hosts.
    pub client: String,
}

impl Sshd {
    pub fn start(dir: &Path) -> Sshd {
        let d = dir.join("ssh");
        std::fs::create_dir_all(&d).unwrap();
        for name in ["host", "client"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f", name])
                .current_dir(&d)
                .status()
                .expect("ssh-keygen (apt-get install -y openssh-client)");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host_pub = std::fs::read_to_string(d.join("host.pub")).unwrap();
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {host_pub}")).unwrap();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {0}/host\nAuthorizedKeysFile {0}/authorized_keys\n\
             PidFile none\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n",
            d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // sshd's privilege separation directory (Debian creates it when the service starts).
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (apt-get install -y openssh-server)");
        let client = format!(
            "ssh -F /dev/null -i {0}/client -o IdentitiesOnly=yes -o UserKnownHostsFile={0}/known_hosts -o StrictHostKeyChecking=yes",
            d.display()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child, port, client }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
