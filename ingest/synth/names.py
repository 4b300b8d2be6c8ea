"""Name, street and place lists for synthetic identities.

Compiled for this project from general knowledge of common French names (no list was copied). The
accented, hyphenated and apostrophe forms are deliberate: the ingest must drop them whatever their
encoding, and Windows-1252 exports must carry them.
"""

from __future__ import annotations

LAST_NAMES: tuple[str, ...] = tuple(
    """
Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefèbvre Leroy Roux David
Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller Lefèvre Faure
André Mercier
Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry
Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer Dufour Meunier
Brun Blanchard
Giraud Joly Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux Colin
Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît
Rey Leclerc Payet Rolland Leclercq Guillaume Lecomte Lopez Jean Dupuy Guillot Hubert Berger Carpentier Sanchez
Dupuis Moulin Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris Poirier Marty
Aubry Guyot Carré Charles Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé Schneider Fernandez
Le Gall Collet Léger Bouvier Julien Prévost Millet Perrot Daniel Le Roux Cousin Germain Breton Besson Langlois
Rémy Le Goff Pelletier Lévêque Perrier Leblanc Barré Lebrun Marchal Weber Mallet Hamon Boulanger Jacob Monnier
Michaud Rodriguez Guichard Gillet Étienne Grondin Poulain Tessier Chevallier Collin Chauvin Da Silva
Bouchet Gay
Lemaître Bénard Maréchal Humbert Reynaud Antoine Hoarau Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy
Delaunay Pasquier Carlier Laporte Côté Lhôte Besnard Hébert Lefort Thibault Ferrand Texier Bégué
Lacoste Marchetti
Nguyen Benali Haddad Mansouri Diallo Traoré Cissé Ferreira Pereira Dos Santos Rossi Bianchi Kowalski Martins
Öztürk Yilmaz Bouzid Chérif Amrani Brahimi Moussa Camara Fofana Sylla Müller Hoffmann Santiago Ribeiro Esteve
Grégoire Hérault Brisson Géraud Guéguen Le Bihan Kerbrat Quéré Salaün Le Floc'h Riou Tanguy Jézéquel Cariou
Larché D'Almeida Saint-Martin Ducrocq Lefebvre-Moreau Després Dupré Désiré Lambin Loïal Crépin Maçon Garçon
Hénaff Hoël Guérin-Lopez Bérenger Chénier Noé Thébault Émery Jégou Hamelin Bouvet Tréguier Fauré Blériot
""".replace("Le Gall", "Le_Gall")
    .replace("Le Roux", "Le_Roux")
    .replace("Le Goff", "Le_Goff")
    .replace("Da Silva", "Da_Silva")
    .replace("Dos Santos", "Dos_Santos")
    .replace("Le Bihan", "Le_Bihan")
    .replace("Le Floc'h", "Le_Floc'h")
    .split()
)
LAST_NAMES = tuple(n.replace("_", " ") for n in LAST_NAMES)

# First names by sex and birth generation: an 85-year-old Lucas or a 4-year-old Germaine would give the
# data away as synthetic.
GENERATION_BOUNDS: tuple[int, ...] = (1950, 1975, 2000)  # birth years splitting the four generations

FIRST_NAMES_F: tuple[tuple[str, ...], ...] = (
    tuple(
        "Marie Jeanne Simone Germaine Yvette Paulette Suzanne Odette Marcelle Lucienne Denise Madeleine "
        "Raymonde Andrée Renée Georgette Solange Gisèle Huguette Colette Monique Thérèse Geneviève Hélène "
        "Jacqueline Ginette Yvonne Micheline Léone Berthe".split()
    ),
    tuple(
        "Françoise Martine Christine Catherine Sylvie Nicole Brigitte Isabelle Dominique Nathalie Chantal "
        "Josiane Danielle Évelyne Patricia Véronique Annie Michèle Joëlle Maryse Béatrice Corinne Pascale "
        "Régine Ghislaine Élisabeth Anne-Marie Marie-Christine Hélène Noëlle".split()
    ),
    tuple(
        "Céline Aurélie Émilie Julie Stéphanie Sandrine Virginie Élodie Audrey Mélanie Laëtitia Caroline "
        "Sophie Amélie Karine Séverine Valérie Marion Laure Anaïs Pauline Hélène Gaëlle Cécile Claire "
        "Fatima Samira Nadia Sarah Marie-Hélène".split()
    ),
    tuple(
        "Emma Léa Chloé Manon Inès Jade Louise Alice Lina Zoé Camille Lola Rose Ambre Léna Anna Mia Juliette "
        "Maëlle Héloïse Maïa Louna Romane Clémence Océane Nour Yasmine Éléonore Agathe Lou-Anne".split()
    ),
)
FIRST_NAMES_M: tuple[tuple[str, ...], ...] = (
    tuple(
        "Jean André René Marcel Roger Pierre Louis Henri Robert Georges Maurice Paul Lucien Raymond Roland "
        "Fernand Gaston Émile Marius Albert Joseph Léon Gérard Jacques Claude Bernard Eugène Édouard "
        "Félicien Aimé".split()
    ),
    tuple(
        "Philippe Alain Michel Patrick Jean-Pierre Jean-Claude Daniel Christian Gérard Bernard Didier "
        "Thierry Dominique Pascal Éric Francis Serge Jean-Luc Gilles Hervé Joël Noël Jérôme Régis Frédéric "
        "Bruno François Yves Jean-François Rémi".split()
    ),
    tuple(
        "Nicolas Julien Sébastien Guillaume Maxime Romain Jérémy Mickaël Anthony Kévin Cédric Mathieu Benoît "
        "Grégory Loïc Yannick Jonathan Florian Damien Fabien Mehdi Karim Rachid Alexandre Thomas Vincent "
        "Raphaël Gaël Jérôme Jean-Baptiste".split()
    ),
    tuple(
        "Gabriel Léo Raphaël Louis Arthur Jules Lucas Adam Hugo Maël Noé Nathan Ethan Paul Sacha Timéo Enzo "
        "Mohamed Aaron Théo Éthan Gaspard Côme Ibrahim Noah Léon Mathéo Joachim Yanis Loïs".split()
    ),
)

STREET_TYPES_AND_NAMES: tuple[str, ...] = (
    "rue des Lilas", "rue de la République", "avenue Jean Jaurès", "boulevard Victor Hugo", "rue Pasteur",
    "place de la Mairie", "rue du Général de Gaulle", "chemin des Vignes", "allée des Tilleuls",
    "impasse du Moulin", "rue de l'Église", "avenue de la Gare", "rue des Écoles", "rue Jean Moulin",
    "rue de la Paix", "boulevard Gambetta", "rue Émile Zola", "rue des Acacias", "avenue Foch",
    "rue du Château", "rue de la Fontaine", "rue des Peupliers", "rue Voltaire", "rue Anatole France",
    "rue du Stade", "rue des Jardins", "quai de la Loire", "rue Saint-Michel", "rue des Mûriers",
    "cours Lafayette", "rue de Verdun", "avenue des Châtaigniers", "rue de la Forêt", "rue du Four",
    "place du Marché", "rue des Prés", "rue Jules Ferry", "rue Paul Bert", "rue de Bretagne",
    "avenue Aristide Briand", "rue du 8 Mai 1945", "rue du 11 Novembre", "rue Curie", "rue des Cerisiers",
    "rue de la Côte", "rue Molière", "avenue Maréchal Leclerc", "chemin de la Croix", "rue de l'Étang",
    "rue des Hirondelles", "rue Berthelot", "rue Édith Piaf", "rue des Coquelicots", "résidence Les Pins",
    "rue du Puits", "rue de Provence", "allée des Marronniers", "rue Montaigne", "rue de la Gaîté",
    "rue Sainte-Anne",
)  # fmt: skip

ADDRESS_COMPLEMENTS: tuple[str, ...] = (
    "", "", "", "", "", "", "bât. B", "bât. A, 2e étage", "3e étage gauche", "apt 12", "RDC", "escalier C",
    "5e étage, ascenseur en panne", "porte du fond", "maison au fond de la cour",
)  # fmt: skip

EHPAD_NAMES: tuple[str, ...] = (
    "EHPAD Les Tilleuls", "EHPAD Le Clos Fleuri", "EHPAD Résidence du Parc", "EHPAD Les Glycines",
    "EHPAD Saint-Joseph", "EHPAD La Roseraie", "EHPAD Les Jardins d'Automne", "EHPAD Notre-Dame",
)  # fmt: skip

# Country codes (INSEE, 3 digits after '99' in the NIR) of the most frequent birth countries abroad.
BIRTH_COUNTRY_CODES: tuple[str, ...] = ("350", "351", "352", "139", "134", "127", "109", "216", "330", "341")
