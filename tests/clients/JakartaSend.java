// Jakarta Mail (Debian's libjakarta-mail-java), the library under Spring Boot's spring.mail.*:
// the properties of the table in docs/smtp.md, set as spring.mail.properties.* would set them.
// The MAILIY_* variables as in nodemailer.mjs; trust: the JVM's trust store
// (-Djavax.net.ssl.trustStore, a PKCS12 file keytool made from our PEM).
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.util.Map;
import java.util.Properties;

public class JakartaSend {
    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        String mode = env.get("MAILIY_MODE");
        String protocol = mode.equals("smtps") ? "smtps" : "smtp";
        String p = "mail." + protocol + ".";
        Properties props = new Properties();
        props.put("mail.transport.protocol", protocol);
        props.put(p + "host", env.get("MAILIY_HOST"));
        props.put(p + "port", env.get("MAILIY_PORT"));
        props.put(p + "auth", "true");
        props.put(p + "connectiontimeout", "20000");
        props.put(p + "timeout", "20000");
        if (mode.equals("starttls")) {
            props.put(p + "starttls.enable", "true");
            props.put(p + "starttls.required", "true");
        }
        if (!mode.equals("plain")) {
            props.put(p + "ssl.checkserveridentity", "true");
        }
        Session session = Session.getInstance(props);
        MimeMessage msg = new MimeMessage(session);
        msg.setFrom(new InternetAddress(env.get("MAILIY_FROM")));
        msg.setRecipient(Message.RecipientType.TO, new InternetAddress(env.get("MAILIY_TO")));
        msg.setSubject(env.get("MAILIY_SUBJECT"));
        msg.setText("sent by Jakarta Mail");
        try (Transport t = session.getTransport(protocol)) {
            t.connect(env.get("MAILIY_USER"), env.get("MAILIY_PASS"));
            t.sendMessage(msg, msg.getAllRecipients());
        }
        System.out.println("sent");
    }
}
