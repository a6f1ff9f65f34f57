// Word lists and sentence templates for the synthetic corporate mail generator. Original text
// written for Shallot; names are common given names and surnames, companies are invented.

enum SynthVocabulary {
    static let firstNames = """
    James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah
    Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Paul Emily
    Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Laura
    Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob Helen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry
    Pamela Justin Emma Scott Nicole Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn
    Patrick Janet Raymond Maria Jack Heather Dennis Diane Jerry Julie Tyler Joyce Aaron Victoria Jose Kelly Adam Christina Nathan
    Lauren Henry Joan Douglas Evelyn Zachary Olivia Peter Judith Kyle Megan Walter Cheryl Ethan Martha Jeremy Andrea Harold Frances
    Priya Wei Mohammed Sofia Hiroshi Ana Olga Lars Ingrid Rahul Mei Diego Fatima Pierre Chloe Marco Giulia Sven Yuki Carlos Elena
    """.split(whereSeparator: \.isWhitespace).map(String.init)

    static let lastNames = """
    Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor
    Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott
    Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz
    Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed
    Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo
    Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales
    Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant
    Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington
    Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw
    Okafor Raman Whitfield Nakamura Schmidt Müller Dubois Rossi Johansson Kowalski Novak Haddad Mehta Tanaka Ivanova Lindqvist
    """.split(whereSeparator: \.isWhitespace).map(String.init)

    static let companyStems = [
        ["Northgate", "Bayline", "Corvale", "Redmont", "Stonebrook", "Ashford", "Pinecrest", "Larkspur", "Harbor", "Westfield",
         "Brightwater", "Cedarline", "Granite", "Summit", "Riverside", "Oakhurst", "Meridian", "Copperfield", "Silverlake", "Kingsway"],
        ["Eastmoor", "Falconridge", "Blueheron", "Millbrook", "Thornfield", "Windmere", "Crestview", "Highgate", "Lakemont", "Sandpoint",
         "Ironbridge", "Maplewood", "Seabright", "Foxhollow", "Glenrock", "Starling", "Wolfcreek", "Elmstead", "Rosehill", "Clearwater"],
    ]
    static let companySuffixes = ["Energy", "Trading", "Gas", "Power", "Resources", "Capital", "Pipeline", "Partners", "Services", "Holdings"]
    static let tlds = ["com", "com", "com", "net", "org", "co.uk", "de", "com"]

    static let titles = ["Senior Analyst", "Analyst", "Manager", "Director", "Vice President", "Trader", "Senior Trader", "Scheduler",
                         "Account Manager", "Counsel", "Senior Counsel", "Associate", "Specialist", "Coordinator", "Engineer",
                         "Controller", "Risk Manager", "Credit Analyst", "Project Manager", "Administrative Assistant"]
    static let departments = ["Gas Trading", "Power Trading", "Credit", "Legal", "Scheduling", "Risk Management", "Accounting",
                              "Human Resources", "Facilities", "IT Services", "Origination", "Regulatory Affairs", "Operations"]

    static let places = ["Houston", "Portland", "Calgary", "London", "Denver", "Omaha", "New York", "Chicago", "Dallas", "Oslo", "Frankfurt"]
    static let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    static let projects = ["the Baytown expansion", "the west desk migration", "the storage contract", "the Q3 forecast", "the new credit policy",
                           "the Alberta deal", "the capacity auction", "the audit", "the system upgrade", "the pipeline tariff filing",
                           "the budget review", "the hedging program", "the customer portal", "the merger review", "the compliance training"]
    static let things = ["the schedule", "the draft", "the numbers", "the contract", "the spreadsheet", "the invoice", "the term sheet",
                         "the presentation", "the report", "the nominations", "the curve", "the confirmations", "the agenda", "the memo"]

    /// Sentence templates by topic. Slots: {first} recipient's first name, {project}, {thing},
    /// {day}, {place}, {month}, {n}, {time}, {pct}.
    static let topics: [(subject: [String], sentences: [String])] = [
        (["Schedule for {day}", "Meeting on {day}", "Moving our call", "Calendar for next week"], [
            "Can we move our meeting on {day} to {time}?",
            "I have a conflict on {day} morning, so the afternoon would work better for me.",
            "Please let me know if {time} on {day} still works for your team.",
            "The call with the group in {place} is now at {time} their time.",
            "I booked the large conference room for {day} from {time} to the end of the day.",
            "We will need about an hour to go through {thing} and the open items.",
            "If {day} does not work, the following week is fairly open for me.",
            "I will send a new invitation once everyone confirms.",
        ]),
        (["Volumes for {month}", "Re: nominations", "Price update", "Trading update for {day}"], [
            "The volumes for {month} came in about {pct} percent above the forecast.",
            "We sold {n} contracts at the close, mostly in the front month.",
            "The desk in {place} is seeing more demand than we expected this week.",
            "Please update the nominations before noon so that scheduling can confirm them.",
            "Prices moved sharply after the storage report on {day}.",
            "I think we should hedge part of the position before the end of the month.",
            "The curve for next winter looks too low to me; can you check the marks?",
            "Our exposure to the west market is now close to the limit.",
        ]),
        (["Credit review", "Counterparty exposure", "Letter of credit", "Re: credit limits"], [
            "Attached is the review of our largest counterparties for {month}.",
            "Three accounts moved to the watch list after their payments slipped.",
            "We should ask for a letter of credit before extending the limit.",
            "The exposure is small, but the payment history worries me.",
            "Legal has approved the new master agreement with the changes we discussed.",
            "Please review the notes before our meeting on {day} and bring any questions.",
            "I would wait one more month before we change their rating.",
        ]),
        (["Draft agreement", "Comments on {thing}", "Re: contract language", "Signature pages"], [
            "I made a few changes to the draft; the main one is in the termination section.",
            "Can you confirm whether the notice period is thirty or sixty days?",
            "The other side accepted most of our comments but not the limitation of liability.",
            "We need signed copies by {day} to close before the end of the quarter.",
            "Please do not forward the draft outside the company yet.",
            "I will be out on {day}, so please send any comments to me before then.",
        ]),
        (["Update on {project}", "{project}", "Status of {project}", "Next steps"], [
            "Here is a short update on {project}.",
            "We are about two weeks behind, mostly because of the vendor delays.",
            "The team in {place} finished the first phase on {day}.",
            "The budget is still within the range we agreed in {month}.",
            "I would like to add two people to the team for the next phase.",
            "The main risk is the testing, which depends on the new system being ready.",
            "Let me know if you want me to present this at the staff meeting.",
            "Thanks again for all the help on {project}.",
        ]),
        (["Office move", "Parking", "Holiday schedule", "New badges"], [
            "The move to the new floor starts next week.",
            "Each team will receive boxes and labels on {day}.",
            "Phones and network will work from the first day in the new offices.",
            "The office will close early on {day} for the holiday.",
            "Please pick up your new badge at the front desk before {day}.",
            "If you need help, call the facilities desk or reply to this message.",
        ]),
        (["Trip to {place}", "Travel plans", "Flights for {day}", "Dinner in {place}"], [
            "I land in {place} on {day} around {time} and can come straight to the office.",
            "Could you book a hotel close to the office for two nights?",
            "The client invited us to dinner on {day}; I said yes for both of us.",
            "My flight back leaves at {time}, so we need to finish by early afternoon.",
            "I will bring copies of {thing} for the meeting.",
        ]),
        (["System outage", "Password reset", "New laptop", "Re: access request"], [
            "The trading system will be down on {day} from {time} for maintenance.",
            "Your access to the reporting database has been approved.",
            "Please save your work before {time}, when the servers restart.",
            "The new laptops arrive on {day}; we will set them up at your desk.",
            "If the problem comes back, open a ticket and mention this message.",
        ]),
    ]

    static let greetings = ["Hi {first},", "{first},", "Hello {first},", "Dear {first},", "Good morning {first},", "Hi all,", "Team,", "All,"]
    static let closings = ["Thanks,", "Thanks,", "Thank you,", "Regards,", "Best,", "Best regards,", "Cheers,", ""]
    static let openers = ["", "", "Quick note: ", "Following up on our call, ", "As promised, ", "Just a reminder: "]
    static let referrals = [
        "You can reach {name} at {phone} if I am not around.",
        "{name} ({email}) can help with the details.",
        "Please copy {name} at {email} on your reply.",
        "For anything urgent, call {name} on {phone}.",
    ]
}
