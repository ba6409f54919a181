package cairn.compat;
public class Scenarios { public static void main(String[] a) throws Exception { Class.forName("org.postgresql.Driver"); System.out.println("hi"); } }
